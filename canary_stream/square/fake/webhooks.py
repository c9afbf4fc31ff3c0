"""Webhook Subscriptions API (``/v2/webhooks/subscriptions``), application token only.

Shapes follow Square: Create and Retrieve carry ``signature_key``; List and Update do not;
UpdateWebhookSubscriptionSignatureKey answers ``{"signature_key": ...}``; Delete answers
``{}``. Create and the key rotation honour ``idempotency_key`` like Square (same key and
body → the same answer; same key, other body → ``IDEMPOTENCY_KEY_REUSED``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from canary_stream.square.fake.context import json_object, require_application, state_of
from canary_stream.square.fake.errors import SquareFault, bad_value, not_found
from canary_stream.square.fake.store import (
    DEFAULT_API_VERSION,
    Json,
    Subscription,
    decode_cursor,
    encode_cursor,
)

BASE = "/v2/webhooks/subscriptions"
MAX_LIMIT = 100
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EVENT_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


def add_routes(app: web.Application) -> None:
    """Register the Webhook Subscriptions endpoints."""
    app.router.add_post(BASE, create_subscription)
    app.router.add_get(BASE, list_subscriptions)
    app.router.add_get(BASE + "/{id}", retrieve_subscription)
    app.router.add_put(BASE + "/{id}", update_subscription)
    app.router.add_delete(BASE + "/{id}", delete_subscription)
    app.router.add_post(BASE + "/{id}/signature-key", update_signature_key)


# Validation ---------------------------------------------------------------------------
def _check_fields(doc: Json, *, creating: bool) -> Json:
    """The writable subscription fields of ``doc``, validated like Square does."""
    out: Json = {}
    prefix = "subscription."
    if "notification_url" in doc or creating:
        url = doc.get("notification_url")
        if url is None:
            raise bad_value(
                prefix + "notification_url", "Field must be set", "MISSING_REQUIRED_PARAMETER"
            )
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_value(prefix + "notification_url", "URL is not valid")
        out["notification_url"] = url
    if "event_types" in doc or creating:
        types = doc.get("event_types")
        if types is None:
            raise bad_value(
                prefix + "event_types", "Field must be set", "MISSING_REQUIRED_PARAMETER"
            )
        if not isinstance(types, list) or not types:
            raise bad_value(prefix + "event_types", "Expected a non-empty array", "ARRAY_EMPTY")
        for t in types:
            if not isinstance(t, str) or not _EVENT_TYPE.match(t):
                raise bad_value(
                    prefix + "event_types", f"Invalid event type `{t}`", "INVALID_ARRAY_VALUE"
                )
        out["event_types"] = list(dict.fromkeys(types))
    if doc.get("name") is not None:
        name = doc["name"]
        if not isinstance(name, str):
            raise bad_value(prefix + "name", "Expected a string value", "EXPECTED_STRING")
        if len(name) > 64:
            raise bad_value(prefix + "name", "Must be at most 64 characters", "VALUE_TOO_LONG")
        out["name"] = name
    if doc.get("enabled") is not None:
        if not isinstance(doc["enabled"], bool):
            raise bad_value(prefix + "enabled", "Expected a boolean value", "EXPECTED_BOOLEAN")
        out["enabled"] = doc["enabled"]
    if doc.get("api_version") is not None:
        version = doc["api_version"]
        if not isinstance(version, str) or not _API_VERSION.match(version):
            raise bad_value(prefix + "api_version", "Invalid API version")
        out["api_version"] = version
    return out


def _subscription_doc(body: Json, *, required: bool) -> Json:
    doc = body.get("subscription")
    if doc is None:
        if required:
            raise bad_value("subscription", "Field must be set", "MISSING_REQUIRED_PARAMETER")
        return {}
    if not isinstance(doc, dict):
        raise bad_value("subscription", "Expected an object", "EXPECTED_OBJECT")
    return doc


def _idempotency_key(body: Json) -> str | None:
    key = body.get("idempotency_key")
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= 45:
        raise bad_value("idempotency_key", "Must be 1 to 45 characters", "INVALID_VALUE")
    return key


def _replay(request: web.Request, endpoint: str, key: str | None, body: Any) -> Json | None:
    """The remembered answer of an idempotent retry, or None for a fresh request."""
    if key is None:
        return None
    try:
        return state_of(request).webhooks.idempotency.lookup(endpoint, key, body)
    except KeyError:
        raise SquareFault(
            400,
            "The idempotency key has already been used with a different request.",
            code="IDEMPOTENCY_KEY_REUSED",
            field="idempotency_key",
        ) from None


def _find(request: web.Request) -> Subscription:
    sub_id = request.match_info["id"]
    sub = state_of(request).webhooks.subscriptions.get(sub_id)
    if sub is None:
        raise not_found("Subscription", sub_id)
    return sub


# Handlers -----------------------------------------------------------------------------
async def create_subscription(request: web.Request) -> web.Response:
    """CreateWebhookSubscription."""
    require_application(request)
    body = await json_object(request)
    key = _idempotency_key(body)
    replayed = _replay(request, "create", key, body)
    if replayed is not None:
        return web.json_response(replayed)
    values = _check_fields(_subscription_doc(body, required=True), creating=True)
    state = state_of(request)
    sub = state.webhooks.create(
        notification_url=values["notification_url"],
        event_types=values["event_types"],
        name=values.get("name"),
        enabled=values.get("enabled", True),
        api_version=values.get("api_version")
        or request.headers.get("Square-Version")
        or DEFAULT_API_VERSION,
        now=state.now(),
    )
    answer = {"subscription": sub.to_json(with_key=True)}
    if key is not None:
        state.webhooks.idempotency.remember("create", key, body, answer)
    return web.json_response(answer)


def _bool_param(request: web.Request, name: str) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return False
    if raw.lower() not in ("true", "false"):
        raise bad_value(name, "Expected a boolean value", "EXPECTED_BOOLEAN")
    return raw.lower() == "true"


def _limit_param(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return MAX_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise bad_value("limit", "Expected an integer value", "EXPECTED_INTEGER") from None
    if limit < 1:
        raise bad_value("limit", "Must be at least 1", "VALUE_TOO_LOW")
    return min(limit, MAX_LIMIT)


async def list_subscriptions(request: web.Request) -> web.Response:
    """ListWebhookSubscriptions: enabled ones unless ``include_disabled``, cursor paginated."""
    require_application(request)
    include_disabled = _bool_param(request, "include_disabled")
    sort_order = request.query.get("sort_order", "ASC")
    if sort_order not in ("ASC", "DESC"):
        raise bad_value("sort_order", f"Invalid sort order `{sort_order}`", "INVALID_ENUM_VALUE")
    limit = _limit_param(request)
    params: Json = {"d": include_disabled, "o": sort_order}
    after: int | None = None
    if request.query.get("cursor"):
        after = decode_cursor(request.query["cursor"], "webhook_subscriptions", params)
        if after is None:
            raise bad_value("cursor", "Invalid cursor", "INVALID_CURSOR")
    page, next_seq = state_of(request).webhooks.page(
        include_disabled=include_disabled,
        descending=sort_order == "DESC",
        after_seq=after,
        limit=limit,
    )
    answer: Json = {}
    if page:
        answer["subscriptions"] = [s.to_json(with_key=False) for s in page]
    if next_seq is not None:
        answer["cursor"] = encode_cursor("webhook_subscriptions", next_seq, params)
    return web.json_response(answer)


async def retrieve_subscription(request: web.Request) -> web.Response:
    """RetrieveWebhookSubscription (carries the current ``signature_key``)."""
    require_application(request)
    return web.json_response({"subscription": _find(request).to_json(with_key=True)})


async def update_subscription(request: web.Request) -> web.Response:
    """UpdateWebhookSubscription: change name, enabled, event types, URL or API version."""
    require_application(request)
    sub = _find(request)
    body = await json_object(request, required=False)
    values = _check_fields(_subscription_doc(body, required=False), creating=False)
    state = state_of(request)
    state.webhooks.update(sub, values, state.now())
    return web.json_response({"subscription": sub.to_json(with_key=False)})


async def delete_subscription(request: web.Request) -> web.Response:
    """DeleteWebhookSubscription."""
    require_application(request)
    sub = _find(request)
    del state_of(request).webhooks.subscriptions[sub.id]
    return web.json_response({})


async def update_signature_key(request: web.Request) -> web.Response:
    """UpdateWebhookSubscriptionSignatureKey: a new key, used for every later delivery."""
    require_application(request)
    sub = _find(request)
    body = await json_object(request, required=False)
    key = _idempotency_key(body)
    endpoint = f"signature-key:{sub.id}"
    replayed = _replay(request, endpoint, key, body)
    if replayed is not None:
        return web.json_response(replayed)
    state = state_of(request)
    answer = {"signature_key": state.webhooks.rotate(sub, state.now())}
    if key is not None:
        state.webhooks.idempotency.remember(endpoint, key, body, answer)
    return web.json_response(answer)
