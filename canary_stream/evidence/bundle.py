"""The self-contained proof bundle (docs/proof-format.md): its model and offline verification.

A bundle proves, with nothing but its own bytes and a public key, that the raw bytes it
carries are the event at ``seq`` of the merchant's hash chain, and that this chain position
was committed in a signed checkpoint. Every field is bound by a check below, so changing
any byte of a bundle file makes :func:`verify_bundle_bytes` fail: values through the
hashes and the signature, formatting through the canonical-form check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from canary_stream.evidence.chain import chain_hash as next_chain_hash
from canary_stream.evidence.checkpoint import Checkpoint, parse_checkpoint
from canary_stream.evidence.errors import EvidenceError, NoteError, ProofError
from canary_stream.evidence.note import KEY_SIZE, SIG_PREFIX, split_note, verify_note
from canary_stream.evidence.proof import root_from_inclusion_proof
from canary_stream.evidence.rfc6962 import hash_leaf

FormatName = Literal["canary-stream-proof/v1"]
FORMAT: FormatName = "canary-stream-proof/v1"
#: The checks of :func:`verify_bundle`, in the order they run (docs/proof-format.md).
CHECKS = (
    "format",
    "canonical",
    "event_hash",
    "chain_link",
    "public_key",
    "signature",
    "checkpoint",
    "position",
    "root",
    "inclusion",
    "chain_head",
)

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
LowerUuid = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]


def _canonical_b64(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not padded RFC 4648 base64") from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise ValueError("not canonical base64 (unused bits must be zero)")
    return value


def _public_key_b64(value: str) -> str:
    _canonical_b64(value)
    if len(base64.b64decode(value)) != KEY_SIZE:
        raise ValueError(f"an Ed25519 public key has {KEY_SIZE} bytes")
    return value


B64 = Annotated[str, AfterValidator(_canonical_b64)]
PublicKeyB64 = Annotated[str, AfterValidator(_public_key_b64)]


class ProofBundle(BaseModel):
    """The bundle, field for field as it is serialised (declaration order = key order)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    format: FormatName
    merchant_id: LowerUuid
    seq: int = Field(ge=1)
    raw_payload: B64
    event_hash: Hex32
    prev_chain_hash: Hex32 | None
    chain_hash: Hex32
    later_event_hashes: list[Hex32]
    batch_no: int = Field(ge=1)
    leaf_index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    audit_path: list[Hex32]
    root_hash: Hex32
    checkpoint: str
    key_name: str = Field(pattern=r"^[^\s+]+$")
    public_key: PublicKeyB64

    def raw(self) -> bytes:
        """The event's raw bytes."""
        return base64.b64decode(self.raw_payload)

    def to_bytes(self) -> bytes:
        """The canonical serialisation (what ``proof`` writes and the endpoint returns)."""
        text = json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=True)
        return (text + "\n").encode("ascii")


class BundleInvalid(EvidenceError):
    """A bundle failed one of the checks; ``check`` names which (see ``CHECKS``)."""

    def __init__(self, check: str, message: str) -> None:
        self.check = check
        super().__init__(f"{check}: {message}")


@dataclass(frozen=True)
class BundleVerdict:
    """A bundle that passed every check: what it proved, and whether the key was pinned."""

    bundle: ProofBundle
    checkpoint: Checkpoint
    key_pinned: bool

    def describe(self) -> str:
        """One line for a person."""
        cp = self.checkpoint
        key = "the given public key" if self.key_pinned else "the bundle's own public key"
        return (
            f"proof ok: merchant {cp.merchant_id} seq {self.bundle.seq} is leaf "
            f"{self.bundle.leaf_index} of batch {cp.batch_no} (seq {cp.first_seq}-{cp.last_seq}, "
            f"root {cp.root_hash.hex()}), checkpoint signed by {self.bundle.key_name} "
            f"under {key}"
        )


def make_bundle(
    *,
    merchant_id: str,
    seq: int,
    raw: bytes,
    event_hash: bytes,
    prev_chain_hash: bytes | None,
    chain_hash: bytes,
    later_event_hashes: Sequence[bytes],
    batch_no: int,
    leaf_index: int,
    tree_size: int,
    audit_path: Sequence[bytes],
    root_hash: bytes,
    note: str,
    key_name: str,
    public_key: bytes,
) -> ProofBundle:
    """Assemble a bundle from stored values (it is not verified here)."""
    return ProofBundle(
        format=FORMAT,
        merchant_id=str(merchant_id),
        seq=seq,
        raw_payload=base64.b64encode(raw).decode("ascii"),
        event_hash=event_hash.hex(),
        prev_chain_hash=prev_chain_hash.hex() if prev_chain_hash is not None else None,
        chain_hash=chain_hash.hex(),
        later_event_hashes=[h.hex() for h in later_event_hashes],
        batch_no=batch_no,
        leaf_index=leaf_index,
        tree_size=tree_size,
        audit_path=[p.hex() for p in audit_path],
        root_hash=root_hash.hex(),
        checkpoint=note,
        key_name=key_name,
        public_key=base64.b64encode(public_key).decode("ascii"),
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise ValueError(f"duplicate key {key!r}")
        doc[key] = value
    return doc


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_bundle(data: bytes) -> ProofBundle:
    """Strict parse: UTF-8 JSON object, no duplicate or unknown keys, exact field types."""
    try:
        doc = json.loads(
            data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants
        )
        return ProofBundle.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "bundle"
        raise BundleInvalid("format", f"{where}: {err.get('msg', 'invalid')}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleInvalid("format", f"not a JSON bundle ({exc})") from None


def verify_bundle_bytes(
    data: bytes, *, public_key: bytes | None = None, key_name: str | None = None
) -> BundleVerdict:
    """Parse, require the canonical form, then :func:`verify_bundle`."""
    bundle = parse_bundle(data)
    if bundle.to_bytes() != data:
        raise BundleInvalid(
            "canonical", "the file differs from the canonical serialisation of its own content"
        )
    return verify_bundle(bundle, public_key=public_key, key_name=key_name)


def verify_bundle(
    bundle: ProofBundle, *, public_key: bytes | None = None, key_name: str | None = None
) -> BundleVerdict:
    """Every check of docs/proof-format.md after parsing; raises ``BundleInvalid`` at the first.

    ``public_key`` (and ``key_name``) pin the signer; without them the bundle's own key is
    used, which proves integrity but not who signed: pin the key you trust.
    """
    raw = bundle.raw()
    event_hash = bytes.fromhex(bundle.event_hash)
    if hashlib.sha256(raw).digest() != event_hash:
        raise BundleInvalid("event_hash", "SHA-256 of raw_payload differs from event_hash")

    prev = bytes.fromhex(bundle.prev_chain_hash) if bundle.prev_chain_hash is not None else None
    if (bundle.seq == 1) != (prev is None):
        raise BundleInvalid("chain_link", "prev_chain_hash must be null exactly when seq is 1")
    chain = bytes.fromhex(bundle.chain_hash)
    if next_chain_hash(prev, event_hash) != chain:
        raise BundleInvalid("chain_link", "chain_hash is not SHA-256(prev_chain_hash ‖ event_hash)")

    own_key = base64.b64decode(bundle.public_key)
    if public_key is not None and public_key != own_key:
        raise BundleInvalid("public_key", "the bundle's public key is not the given one")
    if key_name is not None and key_name != bundle.key_name:
        raise BundleInvalid(
            "public_key", f"the bundle names key {bundle.key_name!r}, not {key_name!r}"
        )

    try:
        body = verify_note(bundle.checkpoint, bundle.key_name, own_key)
        _, signatures = split_note(bundle.checkpoint)
    except NoteError as exc:
        raise BundleInvalid("signature", str(exc)) from None
    canonical_note = (
        body
        + "\n"
        + "".join(
            f"{SIG_PREFIX}{name} {base64.b64encode(kid + sig).decode('ascii')}\n"
            for name, kid, sig in signatures
        )
    )
    if canonical_note != bundle.checkpoint:
        raise BundleInvalid("signature", "a signature line is not canonical base64")

    try:
        cp = parse_checkpoint(body)
    except EvidenceError as exc:
        raise BundleInvalid("checkpoint", str(exc)) from None
    if cp.merchant_id != bundle.merchant_id:
        raise BundleInvalid("checkpoint", f"checkpoint is for merchant {cp.merchant_id}")
    if cp.batch_no != bundle.batch_no or cp.tree_size != bundle.tree_size:
        raise BundleInvalid(
            "checkpoint",
            f"checkpoint is batch {cp.batch_no} of size {cp.tree_size}, bundle says "
            f"batch {bundle.batch_no} of size {bundle.tree_size}",
        )

    if not 0 <= bundle.leaf_index < bundle.tree_size:
        raise BundleInvalid("position", f"leaf_index {bundle.leaf_index} outside the tree")
    if bundle.seq != cp.first_seq + bundle.leaf_index:
        raise BundleInvalid(
            "position", f"seq {bundle.seq} is not first_seq {cp.first_seq} + leaf_index"
        )
    if len(bundle.later_event_hashes) != cp.last_seq - bundle.seq:
        raise BundleInvalid(
            "position",
            f"{len(bundle.later_event_hashes)} later event hashes, want {cp.last_seq - bundle.seq}",
        )

    root = bytes.fromhex(bundle.root_hash)
    if root != cp.root_hash:
        raise BundleInvalid("root", "root_hash differs from the signed checkpoint's root")

    try:
        computed = root_from_inclusion_proof(
            bundle.leaf_index,
            bundle.tree_size,
            hash_leaf(chain),
            [bytes.fromhex(p) for p in bundle.audit_path],
        )
    except ProofError as exc:
        raise BundleInvalid("inclusion", str(exc)) from None
    if computed != root:
        raise BundleInvalid("inclusion", f"audit path leads to {computed.hex()}, not the root")

    head = chain
    for later in bundle.later_event_hashes:
        head = next_chain_hash(head, bytes.fromhex(later))
    if head != cp.chain_head:
        raise BundleInvalid("chain_head", "the chain from this event does not reach chain-head")
    return BundleVerdict(bundle=bundle, checkpoint=cp, key_pinned=public_key is not None)
