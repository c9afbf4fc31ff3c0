"""Typed keys of the ingress application's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream.settings import Settings

if TYPE_CHECKING:
    from canary_stream.ingress.views import WebhookGate

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
GATE: web.AppKey[WebhookGate] = web.AppKey("gate")
