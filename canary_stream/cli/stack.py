"""``canary-stream stack …``: the local Kafka + PostgreSQL the project starts itself."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import typer

from canary_stream.errors import CanaryError
from canary_stream.settings import get_settings

app = typer.Typer(
    help=(
        "Local Apache Kafka (KRaft) and PostgreSQL on 127.0.0.1, started from pid files.\n\n"
        'Example: canary-stream stack up && eval "$(canary-stream stack env)"'
    ),
    no_args_is_help=True,
)


class Service(StrEnum):
    """A service of the local stack."""

    kafka = "kafka"
    postgres = "postgres"


@contextlib.contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except CanaryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


def _progress(line: str) -> None:
    typer.echo(line, err=True)


@app.command()
def up() -> None:
    """Start Kafka and PostgreSQL (idempotent) and wait until both accept connections.

    The first run resolves Kafka's jars with Maven, formats Kafka's storage, runs initdb,
    creates the roles and database and writes state_dir/stack.env.

    Example: canary-stream stack up
    """
    with _one_line_errors():
        from canary_stream.stack import stack

        started = time.monotonic()
        pids = stack.up(get_settings(), echo=_progress)
        typer.echo(
            f"stack is up (kafka pid {pids['kafka']}, postgres pid {pids['postgres']}) "
            f"in {time.monotonic() - started:.1f}s"
        )


@app.command()
def down() -> None:
    """Stop the processes this stack started (by pid file, never by name).

    Example: canary-stream stack down
    """
    with _one_line_errors():
        from canary_stream.stack import stack

        stopped = stack.down(get_settings(), echo=_progress)
        names = [f"{name} (pid {pid})" for name, pid in stopped.items() if pid]
        typer.echo("stopped " + ", ".join(names) if names else "nothing was running")


@app.command()
def status() -> None:
    """Show what runs where: pid, address, version, data directory and log.

    Example: canary-stream stack status
    """
    with _one_line_errors():
        from canary_stream.stack import stack

        settings = get_settings()
        for item in stack.status(settings):
            typer.echo(item.render())
        env = stack.env_path(settings)
        typer.echo(f"env file: {env}" + ("" if env.exists() else " (not written yet)"))


@app.command()
def logs(
    service: Service | None = typer.Argument(None, help="kafka or postgres (default: both)"),
    lines: int = typer.Option(50, "-n", "--lines", min=0, help="How many lines to show."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines."),
) -> None:
    """Print the last lines of the Kafka and/or PostgreSQL log.

    Example: canary-stream stack logs kafka -n 100
    """
    with _one_line_errors():
        from canary_stream.stack import stack
        from canary_stream.stack.common import tail_lines

        settings = get_settings()
        chosen = [service.value] if service else list(stack.SERVICES)
        paths = {name: stack.log_path(settings, name) for name in chosen}
        for name, path in paths.items():
            if len(paths) > 1:
                typer.echo(f"==> {name}: {path} <==")
            if not path.exists():
                typer.echo(f"(no log yet at {path})")
                continue
            for line in tail_lines(path, lines):
                typer.echo(line)
        if follow:
            _follow(paths)


def _follow(paths: dict[str, Path]) -> None:
    offsets = {name: p.stat().st_size if p.exists() else 0 for name, p in paths.items()}
    prefix = len(paths) > 1
    with contextlib.suppress(KeyboardInterrupt):
        _follow_loop(paths, offsets, prefix)


def _follow_loop(paths: dict[str, Path], offsets: dict[str, int], prefix: bool) -> None:
    while True:
        for name, path in paths.items():
            size = path.stat().st_size if path.exists() else 0
            if size < offsets[name]:
                offsets[name] = 0
            if size > offsets[name]:
                with path.open("rb") as fh:
                    fh.seek(offsets[name])
                    chunk = fh.read(size - offsets[name])
                offsets[name] = size
                for line in chunk.decode("utf-8", errors="replace").splitlines():
                    typer.echo(f"{name}| {line}" if prefix else line)
        time.sleep(0.5)


@app.command()
def env() -> None:
    """Print export NAME='value' lines for the stack's URLs, the webhook URL and local dev secrets.

    Example: eval "$(canary-stream stack env)"
    """
    with _one_line_errors():
        from canary_stream.stack import stack
        from canary_stream.stack.envfile import render_exports

        settings = get_settings()
        values = stack.ensure_env(settings)
        # where the local ingress takes Square's deliveries (signatures cover this URL)
        values["CANARY_NOTIFICATION_URL"] = settings.notification_url
        typer.echo(render_exports(values), nl=False)


if __name__ == "__main__":
    app()
