"""``GET /proofs/{event_id}``: the event's self-contained proof bundle (docs/proof-format.md).

Bearer token from ``app.api_tokens`` with scope ``proofs``: a merchant token sees only its
merchant's events, an operator token (no merchant) sees all. A missing token or an unknown,
revoked or other-scope token is 401. An id that is malformed, unknown, or another
merchant's gets the very same 404 body, so a foreign id looks exactly like a missing one.
An own event whose batch is still open is 409. The body is the bundle's canonical bytes,
which ``canary-stream verify proof`` accepts as they are.

Registered by :func:`setup_proofs`; the key ring and the checkpoint public key are built at
startup from settings (the signing seed is not needed: ``CANARY_CHECKPOINT_PUBLIC_KEY``
suffices).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from aiohttp import web

from canary_stream.db.api_tokens import authenticate
from canary_stream.db.inscriptions import NotInscribed, load_bundle
from canary_stream.errors import NotFound
from canary_stream.evidence.crypto import KeyRing
from canary_stream.evidence.signing import CheckpointKey, SigningKeyError, load_checkpoint_key
from canary_stream.ingress import keys

log = logging.getLogger("canary.ingress.proofs")

SCOPE = "proofs"
NOT_FOUND_BODY = b'{"error": "not_found"}'
UNAUTHORIZED_BODY = b'{"error": "unauthorized"}'
UNAVAILABLE_BODY = b'{"error": "proofs_unavailable"}'


@dataclass(frozen=True)
class ProofKeys:
    """What the view needs besides the engine: the payload key ring and the public key."""

    ring: KeyRing | None
    key: CheckpointKey | None


PROOF_KEYS = web.AppKey("proof_keys", ProofKeys)


def setup_proofs(app: web.Application) -> None:
    """Add the route and build the keys at startup (no I/O)."""
    app.router.add_get("/proofs/{event_id}", proof)
    app.on_startup.append(_load_keys)


async def _load_keys(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    ring: KeyRing | None = None
    key: CheckpointKey | None = None
    try:
        ring = KeyRing(settings.encryption_ring())
        key = load_checkpoint_key(
            settings.checkpoint_key_name,
            settings.checkpoint_signing_key.get_secret_value(),
            settings.checkpoint_public_key,
        )
    except Exception as exc:  # the webhook path must still start; proofs answer 503
        log.error("GET /proofs is unavailable: %s", exc)
    app[PROOF_KEYS] = ProofKeys(ring, key)


def _json(body: bytes, status: int, **headers: str) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def proof(request: web.Request) -> web.Response:
    """The proof bundle of one event, for a token allowed to see it."""
    token = _bearer(request)
    unauthorized = _json(
        UNAUTHORIZED_BODY, 401, **{"WWW-Authenticate": 'Bearer realm="canary-stream"'}
    )
    if token is None:
        return unauthorized
    proof_keys = request.app[PROOF_KEYS]
    engine = request.app[keys.ENGINE]
    async with engine.connect() as conn:
        identity = await authenticate(conn, token, SCOPE)
        if identity is None:
            return unauthorized
        if proof_keys.ring is None or proof_keys.key is None:
            return _json(UNAVAILABLE_BODY, 503)
        try:
            event_id = UUID(request.match_info["event_id"])
        except ValueError:
            return _json(NOT_FOUND_BODY, 404)
        try:
            bundle = await load_bundle(
                conn, proof_keys.ring, proof_keys.key, event_id, identity.merchant_id
            )
        except NotFound:
            return _json(NOT_FOUND_BODY, 404)
        except NotInscribed:
            return _json(b'{"error": "not_inscribed"}', 409, **{"Retry-After": "60"})
        except SigningKeyError as exc:
            log.error("cannot serve proof of %s: %s", event_id, exc)
            return _json(UNAVAILABLE_BODY, 503)
    return web.Response(body=bundle.to_bytes(), content_type="application/json")
