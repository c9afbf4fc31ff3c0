"""``canary-stream customers rebuild``."""

from __future__ import annotations

import typer

from canary_stream.cli.common import database, fail, one_line_errors, run, settings

app = typer.Typer(help="The customer registry (app.customers).", no_args_is_help=True)


@app.command()
@one_line_errors
def rebuild(
    merchant: str = typer.Option(
        ..., "--merchant", help="Our merchant UUID or Square's merchant id"
    ),
    apply: bool = typer.Option(
        False, "--apply", help="Also set the differing rows to the recomputed values"
    ),
) -> None:
    """Recompute every customer aggregate from sales.* and print differences from live rows.

    Exits 1 when there is any difference (without --apply).
    Example: canary-stream customers rebuild --merchant ML1
    """
    from canary_stream.customers import rebuild as rb
    from canary_stream.customers.rebuild import Difference, differences
    from canary_stream.db.merchants import resolve

    cfg = settings()

    async def go() -> tuple[str, list[Difference]]:
        async with database(cfg) as engine, engine.begin() as conn:
            found = await resolve(conn, merchant)
            found_diffs = await differences(conn, found.merchant_id)
            if apply and found_diffs:
                fixed = await rb.apply(conn, found.merchant_id, found_diffs)
                print(f"applied: {fixed} customer row(s) set to the recomputed aggregates")
            return str(found.merchant_id), found_diffs

    merchant_id, diffs = run(go())
    for d in diffs:
        print(f"{d.square_customer_id} {d.field}: live={d.live} expected={d.expected}")
    print(f"merchant {merchant_id}: {len(diffs)} difference(s)")
    if diffs and not apply:
        raise fail(f"{len(diffs)} customer aggregate(s) differ from sales.*")
