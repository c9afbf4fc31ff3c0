"""``canary-stream topics create|check``."""

from __future__ import annotations

import typer

from canary_stream.cli.common import fail, one_line_errors, run, settings

app = typer.Typer(help="Create and check the pipeline's Kafka topics.", no_args_is_help=True)


@app.command()
@one_line_errors
def create() -> None:
    """Create every missing topic with its partitions and policy.

    Example: canary-stream topics create
    """
    from canary_stream.kafka import create_topics

    created, problems = run(create_topics(settings()))
    for name in created:
        print(f"created {name}")
    if problems:
        raise fail("; ".join(p.line() for p in problems))
    print("topics ok")


@app.command()
@one_line_errors
def check() -> None:
    """Report topics that are missing or differ from the spec.

    Example: canary-stream topics check
    """
    from canary_stream.kafka import check_topics
    from canary_stream.topics import topic_specs

    cfg = settings()
    problems = run(check_topics(cfg))
    for problem in problems:
        print(problem.line())
    if problems:
        raise typer.Exit(1)
    print(f"topics ok ({len(topic_specs(cfg))} checked)")
