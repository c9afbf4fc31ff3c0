"""The local stack: single-node KRaft Kafka and PostgreSQL on loopback, run from pid files."""

from canary_stream.stack.kafka import kafka_consumer_groups

__all__ = ["kafka_consumer_groups"]
