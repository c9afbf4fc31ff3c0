"""Work around faust-streaming 0.15.3 losing input records at the end of table recovery.

``Recovery`` resumes the stream partitions *before* ``perform_seek()`` and then calls
``flow_control.resume()``, which clears the agents' queues. Records fetched while the seek
is in flight are dropped, yet the consumer's read-offset and gap bookkeeping count them as
read, so their offsets are committed and they are never processed (seen in CI: 15 and 23
envelopes of a seal backlog, found in the broker's logs). Stopping the consumer's flow
before the seek means nothing is delivered until it is done; every caller of
``perform_seek`` resumes the flow right after, and the stream restarts from the committed
offset (at worst a record is processed twice, which every sink already tolerates).
Upstream describes the same order (seek, then resume) in faust-streaming PR #217.
"""

from __future__ import annotations

from typing import Any

from faust.transport import consumer as _consumer

_MARK = "_canary_seek_with_flow_stopped"


def install() -> None:
    """Patch ``Consumer.perform_seek`` once per process (idempotent)."""
    original = _consumer.Consumer.perform_seek
    if getattr(original, _MARK, False):
        return

    async def perform_seek(self: Any) -> None:
        self.stop_flow()
        await original(self)

    setattr(perform_seek, _MARK, True)
    _consumer.Consumer.perform_seek = perform_seek  # type: ignore[method-assign]
