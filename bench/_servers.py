"""The HTTP anchors of bench/ingress.py, each run as its own process.

``bare``: an aiohttp handler that reads the body and answers 200.
``edge``: the minimal durable edge — read the body, SHA-256 it, check the Square HMAC
(``notification_url + body``), build a JSON envelope, ``await`` an idempotent ``acks=all``
aiokafka send with ``linger_ms=0``, answer 200. No JSON parsing, merchant lookup, metrics
or models: what is left of the ingress when everything but durability is taken away.

Both serve ``GET /health/ready`` and use the same aiohttp server options as the ingress
(no access log).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator

from aiohttp import web
from aiokafka import AIOKafkaProducer

HEADER = "x-square-hmacsha256-signature"
OK = b'{"status":"accepted"}'


async def bare(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=OK, content_type="application/json")


def edge_app(args: argparse.Namespace) -> web.Application:
    app = web.Application()
    key, url = args.key.encode(), args.url.encode()
    merchant = args.merchant_uuid.encode()
    producer_key = web.AppKey("producer", AIOKafkaProducer)

    async def producer(app: web.Application) -> AsyncIterator[None]:
        app[producer_key] = AIOKafkaProducer(
            bootstrap_servers=args.bootstrap, enable_idempotence=True, acks="all", linger_ms=0
        )
        await app[producer_key].start()
        yield
        await app[producer_key].stop()

    async def edge(request: web.Request) -> web.Response:
        body = await request.read()
        event_hash = hashlib.sha256(body).hexdigest()
        expected = base64.b64encode(hmac.new(key, url + body, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, request.headers.get(HEADER, "").encode()):
            return web.Response(status=401)
        event_id = str(uuid.uuid4())
        envelope = json.dumps(
            {
                "event_id": event_id,
                "merchant_id": args.merchant_uuid,
                "event_hash": event_hash,
                "raw_payload": base64.b64encode(body).decode(),
                "received_at": dt.datetime.now(dt.UTC).isoformat(),
            }
        ).encode()
        await request.app[producer_key].send_and_wait(args.topic, envelope, key=merchant)
        return web.json_response({"status": "accepted", "event_id": event_id})

    app.cleanup_ctx.append(producer)
    app.router.add_post("/webhooks/square", edge)
    return app


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ready")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=["bare", "edge"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bootstrap", help="edge: Kafka bootstrap")
    p.add_argument("--topic", help="edge: topic the envelopes go to")
    p.add_argument("--url", help="edge: notification URL the signature covers")
    p.add_argument("--key", help="edge: signature key")
    p.add_argument("--merchant-uuid", help="edge: Kafka key (one merchant, as in the load)")
    args = p.parse_args()
    if args.kind == "bare":
        app = web.Application()
        app.router.add_post("/webhooks/square", bare)
    else:
        app = edge_app(args)
    app.router.add_get("/health/ready", ready)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
