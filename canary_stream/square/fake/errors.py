"""Square's error shape: ``{"errors": [{"category", "code", "detail", "field"?}]}`` with a 4xx/5xx.

Handlers raise :class:`SquareFault`; the app's middleware turns it into that response.
"""

from __future__ import annotations

import math

from aiohttp import web

#: Category and code Square answers for a bare HTTP status (used by injected faults too).
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_REQUEST_ERROR", "BAD_REQUEST"),
    401: ("AUTHENTICATION_ERROR", "UNAUTHORIZED"),
    403: ("AUTHENTICATION_ERROR", "FORBIDDEN"),
    404: ("INVALID_REQUEST_ERROR", "NOT_FOUND"),
    405: ("INVALID_REQUEST_ERROR", "METHOD_NOT_ALLOWED"),
    408: ("API_ERROR", "REQUEST_TIMEOUT"),
    409: ("INVALID_REQUEST_ERROR", "CONFLICT"),
    429: ("RATE_LIMIT_ERROR", "RATE_LIMITED"),
    500: ("API_ERROR", "INTERNAL_SERVER_ERROR"),
    501: ("API_ERROR", "NOT_IMPLEMENTED"),
    502: ("API_ERROR", "BAD_GATEWAY"),
    503: ("API_ERROR", "SERVICE_UNAVAILABLE"),
    504: ("API_ERROR", "GATEWAY_TIMEOUT"),
}


class SquareFault(Exception):
    """An error answer in Square's shape."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        category: str | None = None,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        default_category, default_code = STATUS_ERRORS.get(
            status, ("API_ERROR" if status >= 500 else "INVALID_REQUEST_ERROR", "BAD_REQUEST")
        )
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or default_code
        self.category = category or default_category
        self.field = field
        self.retry_after = retry_after

    def response(self) -> web.Response:
        """The JSON answer Square would send."""
        error: dict[str, str] = {
            "category": self.category,
            "code": self.code,
            "detail": self.detail,
        }
        if self.field is not None:
            error["field"] = self.field
        headers = {}
        if self.retry_after is not None:
            # whole seconds: the SDK only parses an integer Retry-After (or an HTTP date)
            headers["Retry-After"] = str(max(0, math.ceil(self.retry_after)))
        return web.json_response({"errors": [error]}, status=self.status, headers=headers)


def unauthorized(detail: str = "This request could not be authorized.") -> SquareFault:
    """401 as Square sends it for a missing, malformed or unknown bearer token."""
    return SquareFault(401, detail, category="AUTHENTICATION_ERROR", code="UNAUTHORIZED")


def not_found(what: str, object_id: str) -> SquareFault:
    """404 for an object id nobody created."""
    return SquareFault(404, f"{what} with id `{object_id}` not found.", code="NOT_FOUND")


def bad_value(field: str, detail: str, code: str = "INVALID_VALUE") -> SquareFault:
    """400 naming the offending request field."""
    return SquareFault(400, detail, code=code, field=field)
