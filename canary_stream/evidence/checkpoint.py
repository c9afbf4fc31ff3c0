"""The checkpoint body of evidence.md (a C2SP tlog-checkpoint with extension lines).

```
canary-stream/<merchant_id>
<tree size>
<base64 root>
batch <batch_no>
seq <first_seq>-<last_seq>
prev-root <base64 root of batch_no-1, or of 32 zero bytes for the first>
chain-head <hex chain hash of last_seq>
```
Formatting and parsing are exact inverses; parsing accepts only the canonical form.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from canary_stream.evidence.errors import CheckpointError
from canary_stream.evidence.note import sign_note, verify_note

ORIGIN_PREFIX = "canary-stream/"
HASH_SIZE = 32
#: ``prev-root`` of a merchant's first batch.
ZERO_ROOT = bytes(HASH_SIZE)

_DECIMAL = r"(0|[1-9][0-9]*)"
_BODY = re.compile(
    rf"{re.escape(ORIGIN_PREFIX)}(?P<merchant>[^\s]+)\n"
    rf"(?P<size>{_DECIMAL})\n"
    r"(?P<root>[A-Za-z0-9+/=]+)\n"
    rf"batch (?P<batch>{_DECIMAL})\n"
    rf"seq (?P<first>{_DECIMAL})-(?P<last>{_DECIMAL})\n"
    r"prev-root (?P<prev>[A-Za-z0-9+/=]+)\n"
    r"chain-head (?P<head>[0-9a-f]{64})\n",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One closed batch of a merchant's chain, as committed in its signed checkpoint."""

    merchant_id: str
    tree_size: int
    root_hash: bytes
    batch_no: int
    first_seq: int
    last_seq: int
    prev_root_hash: bytes
    chain_head: bytes

    def __post_init__(self) -> None:
        if not self.merchant_id or any(ch.isspace() or ch < " " for ch in self.merchant_id):
            raise CheckpointError(f"merchant id {self.merchant_id!r} is empty or has spaces")
        if self.batch_no < 1 or self.first_seq < 1 or self.last_seq < self.first_seq:
            raise CheckpointError(
                f"batch {self.batch_no} seq {self.first_seq}-{self.last_seq}: need batch >= 1 "
                "and 1 <= first_seq <= last_seq"
            )
        if self.tree_size != self.last_seq - self.first_seq + 1:
            raise CheckpointError(
                f"tree size {self.tree_size} does not cover seq {self.first_seq}-{self.last_seq}"
            )
        for name in ("root_hash", "prev_root_hash", "chain_head"):
            value = getattr(self, name)
            if len(value) != HASH_SIZE:
                raise CheckpointError(f"{name} has {len(value)} bytes, want {HASH_SIZE}")

    @property
    def origin(self) -> str:
        """The checkpoint origin line, ``canary-stream/<merchant_id>``."""
        return ORIGIN_PREFIX + self.merchant_id


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def format_checkpoint(cp: Checkpoint) -> str:
    """The checkpoint body, ending in a newline (the text a signed note signs)."""
    return (
        f"{cp.origin}\n{cp.tree_size}\n{_b64(cp.root_hash)}\n"
        f"batch {cp.batch_no}\n"
        f"seq {cp.first_seq}-{cp.last_seq}\n"
        f"prev-root {_b64(cp.prev_root_hash)}\n"
        f"chain-head {cp.chain_head.hex()}\n"
    )


def _hash_b64(name: str, text: str) -> bytes:
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{name} is not base64: {text[:60]!r}") from None
    if _b64(value) != text:
        raise CheckpointError(f"{name} is not canonical base64: {text[:60]!r}")
    return value


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint body; anything but the exact canonical form raises."""
    match = _BODY.fullmatch(body)
    if match is None:
        raise CheckpointError("checkpoint body does not have the canary-stream layout")
    cp = Checkpoint(
        merchant_id=match["merchant"],
        tree_size=int(match["size"]),
        root_hash=_hash_b64("root", match["root"]),
        batch_no=int(match["batch"]),
        first_seq=int(match["first"]),
        last_seq=int(match["last"]),
        prev_root_hash=_hash_b64("prev-root", match["prev"]),
        chain_head=bytes.fromhex(match["head"]),
    )
    if format_checkpoint(cp) != body:
        raise CheckpointError("checkpoint body is not in canonical form")
    return cp


def sign_checkpoint(cp: Checkpoint, key_name: str, private_key_seed: bytes) -> str:
    """The signed note carrying ``cp``."""
    return sign_note(format_checkpoint(cp), key_name, private_key_seed)


def open_checkpoint(note: str, key_name: str, public_key: bytes) -> Checkpoint:
    """Verify the note's signature by ``key_name`` and parse the checkpoint it carries."""
    return parse_checkpoint(verify_note(note, key_name, public_key))
