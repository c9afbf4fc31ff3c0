"""One error type per way a Square API call fails, translated from the SDK's exceptions.

Messages are one line and never carry tokens or signature keys (Square's error ``detail``
does not echo them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
from square.core.api_error import ApiError

from canary_stream.errors import CanaryError, PermanentError, TransientError


class SquareError(CanaryError):
    """Root of the Square API call failures."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class SquareUnavailable(SquareError, TransientError):
    """5xx, 429, 408, a timeout or no connection (after the SDK's own retries): try later."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class SquareAuthError(SquareError):
    """401/403: the token is missing, wrong, expired, revoked or lacks a scope."""


class SquareRequestError(SquareError, PermanentError):
    """Square refused the request itself (4xx other than auth): retrying cannot help."""

    reason = "deferred_exhausted"


class SquareNotFound(SquareRequestError):
    """404: the object does not exist (or belongs to another seller)."""


def _first_error(body: Any) -> tuple[str | None, str]:
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        err = body["errors"][0]
        if isinstance(err, dict):
            detail = " ".join(str(err.get("detail") or "").split())
            return err.get("code"), detail[:200]
    return None, ""


def _retry_after(headers: dict[str, str] | None) -> float | None:
    value = {k.lower(): v for k, v in (headers or {}).items()}.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate(exc: BaseException, operation: str) -> SquareError | None:
    """The :class:`SquareError` for an SDK or transport exception, or None if it is neither."""
    if isinstance(exc, ApiError):
        status = exc.status_code or 0
        code, detail = _first_error(exc.body)
        text = f"Square {operation} failed: HTTP {status}"
        text += f" {code}" if code else ""
        text += f": {detail}" if detail else ""
        if status in (401, 403):
            return SquareAuthError(text, status=status, code=code)
        if status in (408, 429) or status >= 500:
            return SquareUnavailable(
                text, status=status, code=code, retry_after=_retry_after(exc.headers)
            )
        if status == 404:
            return SquareNotFound(text, status=status, code=code)
        return SquareRequestError(text, status=status, code=code)
    if isinstance(exc, httpx.TransportError):
        verb = "timed out" if isinstance(exc, httpx.TimeoutException) else "got no answer"
        return SquareUnavailable(
            f"Square {operation} {verb} from {_origin(exc)} ({type(exc).__name__})"
        )
    return None


def _origin(exc: httpx.TransportError) -> str:
    """``scheme://host:port`` of the failed request (never its path, query or headers)."""
    try:
        url = exc.request.url
    except RuntimeError:
        return "Square"
    return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")


@contextlib.contextmanager
def square_errors(operation: str) -> Iterator[None]:
    """Turn SDK and transport exceptions raised inside the block into :class:`SquareError`."""
    try:
        yield
    except (ApiError, httpx.HTTPError) as exc:
        mapped = translate(exc, operation)
        if mapped is None:
            raise
        raise mapped from None
