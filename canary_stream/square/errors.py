"""One error type per way a Square API call fails, translated from the SDK's exceptions.

=====================  =============================================  ==========
class                  when                                           retriable
=====================  =============================================  ==========
SquareRateLimited      429 after the SDK's retries                    yes
SquareServerError      5xx after the SDK's retries                    yes
SquareUnavailable      408, a timeout, no connection                  yes
SquareBadResponse      a 2xx whose body is not JSON                   yes
SquareAuthError        401 / 403: token missing, expired, revoked     no (refresh or re-authorise)
SquareNotFound         404                                            no (dead letter)
SquareRequestError     any other 4xx                                  no (dead letter)
=====================  =============================================  ==========

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


class SquareRateLimited(SquareUnavailable):
    """429 (still, after the SDK's retries honouring ``Retry-After``): this merchant is over
    Square's rate limit; wait ``retry_after`` seconds (when Square said) before calling again."""


class SquareServerError(SquareUnavailable):
    """5xx (still, after the SDK's retries): Square failed; try again later."""


class SquareBadResponse(SquareError, TransientError):
    """A 2xx whose body is not the JSON the call expects (a proxy page, a cut-off body)."""


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
        if 200 <= status < 300:
            return SquareBadResponse(
                f"Square {operation} answered HTTP {status} with a body that is not JSON",
                status=status,
            )
        if status in (401, 403):
            return SquareAuthError(text, status=status, code=code)
        if status == 429 or status >= 500:
            unavailable = SquareRateLimited if status == 429 else SquareServerError
            return unavailable(
                text, status=status, code=code, retry_after=_retry_after(exc.headers)
            )
        if status == 408:
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
