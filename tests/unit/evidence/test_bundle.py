"""Proof bundles: the worked example of docs/proof-format.md, every check, every byte.

The doc's JSON Schema, example and reference verifier are read from the doc itself, so the
doc cannot drift from the code: the example must be what the generator writes, the schema
must accept it and name exactly the model's fields, and the reference verifier (an
independent implementation, hashlib + cryptography only) must accept the example and
reject tampered copies.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from canary_stream.evidence.bundle import (
    CHECKS,
    BundleInvalid,
    ProofBundle,
    parse_bundle,
    verify_bundle,
    verify_bundle_bytes,
)

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "proof-format.md").read_text(encoding="utf-8")
VECTORS = ROOT / "tests" / "vectors" / "proof"
EXAMPLE = (VECTORS / "example.json").read_bytes()
VALUES = json.loads((VECTORS / "example-values.json").read_text())
PUBLIC = bytes.fromhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")


def doc_block(name: str) -> str:
    match = re.search(
        rf"<!-- {name}:start -->\n```[a-z]+\n(.*?)```\n<!-- {name}:end -->", DOC, re.DOTALL
    )
    assert match, f"docs/proof-format.md has no {name} block"
    return match.group(1)


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("proof_generate", VECTORS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_is_what_the_generator_writes() -> None:
    bundle, values = load_generator().example()
    assert bundle.to_bytes() == EXAMPLE
    assert values == VALUES


def test_doc_example_is_the_example_file() -> None:
    assert doc_block("proof-bundle-example").encode() == EXAMPLE


def test_doc_schema_accepts_the_example_and_names_every_field() -> None:
    schema = json.loads(doc_block("proof-bundle-schema"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(EXAMPLE), schema, cls=jsonschema.Draft202012Validator)
    fields = list(ProofBundle.model_fields)
    assert list(schema["properties"]) == fields
    assert schema["required"] == fields
    assert list(json.loads(EXAMPLE)) == fields


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("format", "canary-stream-proof/v2"),
        ("seq", 0),
        ("event_hash", "B6FBBBF2F532F99BE40FDD354F52E300277D97D4EDB57690B824CDDE20FEFA6D"),
        ("public_key", "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh="),
        ("key_name", "canary stream"),
        ("audit_path", ["00"]),
    ],
)
def test_doc_schema_and_model_reject(field: str, value: Any) -> None:
    schema = json.loads(doc_block("proof-bundle-schema"))
    doc = json.loads(EXAMPLE) | {field: value}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(BundleInvalid, match=r"^format: "):
        parse_bundle(json.dumps(doc).encode())


def test_every_hash_the_walk_through_shows_is_a_real_value() -> None:
    walk = DOC[DOC.index("Walking through it:") : DOC.index("## A reference verifier")]
    known = {v for v in VALUES.values() if isinstance(v, str)}
    known |= {v for v in json.loads(EXAMPLE).values() if isinstance(v, str)}
    known |= set(json.loads(EXAMPLE)["audit_path"]) | set(json.loads(EXAMPLE)["later_event_hashes"])
    shown = set(re.findall(r"\b[0-9a-f]{64}\b", walk))
    assert shown and shown <= known, shown - known
    assert VALUES["checkpoint_body"].split("\n")[0] in walk


def test_example_verifies() -> None:
    verdict = verify_bundle_bytes(EXAMPLE, public_key=PUBLIC, key_name="canary-stream")
    assert verdict.key_pinned
    cp = verdict.checkpoint
    assert (cp.batch_no, cp.first_seq, cp.last_seq, cp.tree_size) == (2, 6, 10, 5)
    assert verdict.describe() == (
        "proof ok: merchant 0190d3a2-7b4c-7def-8a12-3456789abcde seq 8 is leaf 2 of batch 2 "
        "(seq 6-10, root f3030c0e2722cfb58fd1cee4313da71e638a9db16b244659b1fcbcc80f734e16), "
        "checkpoint signed by canary-stream under the given public key"
    )
    assert not verify_bundle_bytes(EXAMPLE).key_pinned


def test_every_single_byte_change_is_rejected() -> None:
    accepted = []
    for position in range(len(EXAMPLE)):
        for change in (0x01, 0x20, 0x80):
            data = bytearray(EXAMPLE)
            data[position] ^= change
            try:
                verify_bundle_bytes(bytes(data), public_key=PUBLIC)
            except BundleInvalid:
                continue
            accepted.append((position, change))
    assert not accepted, f"{len(accepted)} single-byte changes still verify: {accepted[:5]}"


def replaced(**changes: Any) -> ProofBundle:
    return parse_bundle(EXAMPLE).model_copy(update=changes)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


OTHER = "ab" * 32
B = parse_bundle(EXAMPLE)
TAMPERED = [
    ("raw_payload", {"raw_payload": base64.b64encode(b"other bytes").decode()}, "event_hash"),
    ("event_hash", {"event_hash": OTHER}, "event_hash"),
    ("prev null", {"prev_chain_hash": None}, "chain_link"),
    ("prev", {"prev_chain_hash": OTHER}, "chain_link"),
    ("chain_hash", {"chain_hash": OTHER}, "chain_link"),
    ("public key", {"public_key": base64.b64encode(bytes(32)).decode()}, "public_key"),
    ("key name", {"key_name": "someone-else"}, "public_key"),
    ("merchant", {"merchant_id": "0190d3a2-7b4c-7def-8a12-3456789abcdf"}, "checkpoint"),
    ("batch", {"batch_no": 1}, "checkpoint"),
    ("tree size doubled", {"tree_size": 10}, "checkpoint"),
    ("index off by one", {"leaf_index": 3}, "position"),
    ("index outside", {"leaf_index": 5}, "position"),
    ("seq", {"seq": 9}, "position"),
    ("seq one", {"seq": 1}, "chain_link"),
    ("later dropped", {"later_event_hashes": B.later_event_hashes[:1]}, "position"),
    ("later changed", {"later_event_hashes": [B.later_event_hashes[0], OTHER]}, "chain_head"),
    ("root", {"root_hash": OTHER}, "root"),
    ("path truncated", {"audit_path": B.audit_path[:-1]}, "inclusion"),
    ("path extended", {"audit_path": [*B.audit_path, OTHER]}, "inclusion"),
    ("path flipped", {"audit_path": ["1" + B.audit_path[0][1:], *B.audit_path[1:]]}, "inclusion"),
    ("path swapped", {"audit_path": [B.audit_path[1], B.audit_path[0], B.audit_path[2]]},
     "inclusion"),
    ("note body", {"checkpoint": B.checkpoint.replace("seq 6-10", "seq 6-11")}, "signature"),
    ("note unsigned", {"checkpoint": B.checkpoint.split("\n\n")[0] + "\n"}, "signature"),
]  # fmt: skip


@pytest.mark.parametrize(("desc", "changes", "check"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_tampered_bundles_fail_at_the_right_check(
    desc: str, changes: dict[str, Any], check: str
) -> None:
    bundle = replaced(**changes)
    with pytest.raises(BundleInvalid) as info:
        verify_bundle(bundle, public_key=PUBLIC, key_name="canary-stream")
    assert info.value.check == check
    assert check in CHECKS


def test_rejects_non_canonical_files() -> None:
    doc = json.loads(EXAMPLE)
    for data in (
        json.dumps(doc).encode(),  # compact
        EXAMPLE.replace(b'"seq": 8', b'"seq":  8'),
        EXAMPLE.rstrip(b"\n"),
        json.dumps(doc, indent=2, ensure_ascii=False).encode() + b"\n",  # a raw em dash
    ):
        with pytest.raises(BundleInvalid, match=r"^canonical: "):
            verify_bundle_bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"format": "canary-stream-proof/v1", "format": "x"}', "duplicate key 'format'"),
        (EXAMPLE.replace(b'"seq": 8', b'"seq": 8.0'), "seq"),
        (EXAMPLE.replace(b'"seq": 8', b'"seq": "8"'), "seq"),
        (EXAMPLE.replace(b'"seq": 8', b'"seq": NaN'), "NaN is not JSON"),
        (EXAMPLE.replace(b'"format"', b'"extra": 1, "format"'), "extra"),
        (b"\xff", "not a JSON bundle"),
        (b"[]", "bundle"),
    ],
)
def test_strict_parsing(data: bytes, message: str) -> None:
    with pytest.raises(BundleInvalid, match=message) as info:
        parse_bundle(data)
    assert info.value.check == "format"


def reference_verifier() -> Any:
    namespace: dict[str, Any] = {"__name__": "reference_verifier"}
    exec(compile(doc_block("reference-verifier"), "proof-format.md", "exec"), namespace)
    return namespace["verify"]


def test_reference_verifier_accepts_the_example() -> None:
    reference_verifier()(json.loads(EXAMPLE), PUBLIC, "canary-stream")


@pytest.mark.parametrize(("desc", "changes", "check"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_reference_verifier_rejects_tampered_bundles(
    desc: str, changes: dict[str, Any], check: str
) -> None:
    doc = replaced(**changes).model_dump(mode="json")
    with pytest.raises(Exception):  # noqa: B017 - ValueError or InvalidSignature
        reference_verifier()(doc, PUBLIC, "canary-stream")


def test_reference_verifier_agrees_on_generated_batches() -> None:
    """Bundles of every leaf of a few batch sizes: both verifiers accept each."""
    gen = load_generator()
    verify_ref = reference_verifier()
    bundle, _ = gen.example()
    assert verify_bundle(bundle, public_key=PUBLIC).checkpoint.tree_size == 5
    verify_ref(bundle.model_dump(mode="json"), PUBLIC)
