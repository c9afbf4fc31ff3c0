"""Anchor backends: take a closed batch's signed checkpoint somewhere outside our hands.

A backend receives the checkpoint and its signed note and returns an anchor reference (a
string the backend can later resolve). Backends are named in settings
(``CANARY_ANCHOR_BACKEND``) and built through :func:`make_anchor_backend`:

- ``mock`` (default): no I/O; the reference is ``mock:`` + the SHA-256 of the signed note,
  so the same batch always gets the same reference, and the batch is ANCHORED at once;
- ``failing``: always raises :class:`AnchorUnavailable` (tests, drills): batches stay
  ``PENDING`` and are retried, and nothing else waits for them.

A failure never blocks sealing or batching: the caller anchors after the batch committed
and its checkpoint was published, in its own task, with a timeout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

from canary_stream.errors import ConfigError, TransientError
from canary_stream.evidence.checkpoint import Checkpoint


class AnchorUnavailable(TransientError):
    """The anchor backend did not take the checkpoint; the batch stays PENDING and is retried."""


class AnchorBackend(Protocol):
    """Where closed batches are anchored."""

    name: str

    async def anchor(self, checkpoint: Checkpoint, note: str) -> str:
        """Anchor one batch; returns the anchor reference or raises ``AnchorUnavailable``."""
        ...


class MockAnchor:
    """Deterministic, offline: the reference is derived from the signed note alone."""

    name = "mock"

    async def anchor(self, checkpoint: Checkpoint, note: str) -> str:
        """``mock:<hex SHA-256 of the note>``."""
        return mock_reference(note)


class FailingAnchor:
    """Refuses every batch, so tests can show that a dead backend blocks nothing."""

    name = "failing"

    async def anchor(self, checkpoint: Checkpoint, note: str) -> str:
        """Always raises ``AnchorUnavailable``."""
        raise AnchorUnavailable(
            f"anchor backend 'failing' refused batch {checkpoint.batch_no} "
            f"of {checkpoint.merchant_id}"
        )


def mock_reference(note: str) -> str:
    """The ``mock`` backend's reference for a signed note."""
    return "mock:" + hashlib.sha256(note.encode("utf-8")).hexdigest()


#: Backend name → factory. Adding a backend is an entry here.
BACKENDS: dict[str, Callable[[], AnchorBackend]] = {
    MockAnchor.name: MockAnchor,
    FailingAnchor.name: FailingAnchor,
}


def make_anchor_backend(name: str) -> AnchorBackend:
    """The backend named in settings; an unknown name is a ``ConfigError``."""
    factory = BACKENDS.get(name)
    if factory is None:
        raise ConfigError(
            f"CANARY_ANCHOR_BACKEND={name!r} is unknown; "
            f"choose one of {', '.join(sorted(BACKENDS))}"
        )
    return factory()
