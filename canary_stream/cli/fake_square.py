"""``canary-stream fake-square``: run the local fake Square API in the foreground."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer

from canary_stream.cli.common import fail, one_line_errors, settings

app = typer.Typer()

DEFAULT_PORT = 8091


@app.callback(invoke_without_command=True)
@one_line_errors
def fake_square(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int | None = typer.Option(
        None, "--port", help="Port (default: the port of CANARY_SQUARE_BASE_URL, else 8091)"
    ),
) -> None:
    """Run the local fake Square API in the foreground (tests, 'make run', benchmarks).

    Serves Square's webhook-subscription API from memory until interrupted; callers use
    CANARY_SQUARE_ACCESS_TOKEN (written by 'canary-stream stack up').

    Example: canary-stream fake-square --port 8091
    """
    from canary_stream.square.fake import FakeSquareState, serve

    cfg = settings()
    token = cfg.square_access_token.get_secret_value()
    if not token:
        raise fail(
            "CANARY_SQUARE_ACCESS_TOKEN is empty: run 'canary-stream stack up' (it writes one) "
            "or set it; the fake accepts only that token",
            2,
        )
    if port is None:
        port = urlsplit(cfg.square_base_url).port or DEFAULT_PORT
    try:
        serve(FakeSquareState(access_token=token), host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
