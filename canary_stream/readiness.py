"""Wait until every application process answers 200 on ``/health/ready``."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from canary_stream.processes import status_all
from canary_stream.settings import Settings


def is_ready(url: str) -> bool:
    """Whether ``url``/health/ready answers 200 right now."""
    try:
        with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_ready(settings: Settings, timeout: float) -> list[str]:
    """Poll until all processes are ready; return the names still not ready at the deadline."""
    deadline = time.monotonic() + timeout
    pending = [s.name for s in status_all(settings)]
    while pending and time.monotonic() < deadline:
        urls = {s.name: s.url for s in status_all(settings)}
        pending = [name for name in pending if not is_ready(urls[name])]
        if pending:
            time.sleep(0.5)
    return pending
