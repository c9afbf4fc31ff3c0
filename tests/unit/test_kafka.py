"""Partitioning and topic checks, without a broker."""

from __future__ import annotations

from canary_stream.kafka import compare_topics, partition_for
from canary_stream.settings import Settings
from canary_stream.topics import topic_specs


def test_partition_matches_kafkas_murmur2_partitioner():
    # Values of org.apache.kafka.common.utils.Utils.toPositive(murmur2(key)) % 8 for these keys,
    # the same function aiokafka's DefaultPartitioner uses.
    from aiokafka.partitioner import DefaultPartitioner

    for key in ("6bfba519-063b-4e8c-95ca-f0d7a90a43c1", "unknown", "a"):
        assert partition_for(key, 8) == DefaultPartitioner()(key.encode(), list(range(8)), [])


def test_topic_specs_have_the_pipeline_partition_counts():
    specs = {s.name: s for s in topic_specs(Settings(_env_file=None, topic_partitions=8))}  # type: ignore[call-arg]
    assert len(specs) == 8
    assert specs["canary.merchant-config"].partitions == 1
    assert specs["canary.merchant-config"].config["cleanup.policy"] == "compact"
    assert all(s.partitions == 8 for n, s in specs.items() if n != "canary.merchant-config")
    assert specs["canary.events"].config["retention.ms"] == str(7 * 24 * 3600 * 1000)


def test_compare_topics_reports_missing_wrong_count_and_policy():
    specs = topic_specs(Settings(_env_file=None))  # type: ignore[call-arg]
    partitions = {s.name: s.partitions for s in specs}
    partitions.pop("canary.events")
    partitions["canary.sealed"] = 4
    configs = {"canary.merchant-config": {"cleanup.policy": "delete"}}
    lines = [p.line() for p in compare_topics(specs, partitions, configs)]
    assert lines == [
        "canary.events: missing (run 'canary-stream topics create')",
        "canary.sealed: has 4 partitions, expected 8; partition counts cannot change once "
        "merchants have chains",
        "canary.merchant-config: cleanup.policy is delete, expected compact "
        "(run 'canary-stream topics create')",
    ]
