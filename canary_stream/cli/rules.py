"""``canary-stream rules show|set|reset``: the rule catalog and per-merchant settings.

``set`` and ``reset`` validate types and ranges, write ``app.merchant_rule_settings`` (or
the location's business hours), then publish the merchant's full config record; running
workers pick it up within seconds, without a restart.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from canary_stream.cli.common import database, one_line_errors, run, settings
from canary_stream.errors import ConfigError

app = typer.Typer(help="Show and tune the detection rules.", no_args_is_help=True)

MERCHANT = typer.Option(None, "--merchant", help="Merchant UUID or Square merchant id")


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(value) or "[]"
    return str(value)


@app.command()
@one_line_errors
def show(
    merchant: str | None = MERCHANT,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """List the catalog, or the rules in force for one merchant.

    Example: canary-stream rules show --merchant ML123
    """
    from canary_stream.rules.catalog import CATALOG, effective

    stored: dict[str, dict[str, Any]] = {}
    hours: dict[str, str] = {}
    if merchant is not None:
        config = run(_load(merchant))
        stored = {rule_id: rc.model_dump() for rule_id, rc in config.rules.items()}
        hours = {k: v.business_hours for k, v in config.locations.items() if v.business_hours}
    rows: list[dict[str, Any]] = []
    for rule_id in CATALOG:
        rule = effective(rule_id, stored.get(rule_id))
        rows.append(
            {
                "rule_id": rule_id,
                "name": rule.spec.name,
                "category": rule.spec.category,
                "severity": rule.spec.severity,
                "tier": rule.spec.tier,
                "enabled": rule.enabled,
                "mode": rule.mode,
                "thresholds": dict(rule.thresholds),
                "allow_lists": {k: list(v) for k, v in rule.allow_lists.items()},
                "customised": rule_id in stored,
            }
        )
    if as_json:
        print(json.dumps({"rules": rows, "location_business_hours": hours}, indent=2))
        return
    table = Table("rule", "name", "sev", "tier", "enabled", "mode", "thresholds", "allow-lists")
    for r in rows:
        thresholds = " ".join(f"{k}={_value(v)}" for k, v in r["thresholds"].items()) or "-"
        allow = " ".join(f"{k}:{_value(v)}" for k, v in r["allow_lists"].items()) or "-"
        mark = "*" if r["customised"] else ""
        table.add_row(
            f"{r['rule_id']}{mark}", r["name"], r["severity"], str(r["tier"]),
            "yes" if r["enabled"] else "no", r["mode"], thresholds, allow,
        )  # fmt: skip
    console = Console(width=200)
    console.print(table)
    for location, value in sorted(hours.items()):
        console.print(f"location {location}: business hours {value}")
    if merchant is not None:
        console.print("* = set for this merchant; 'canary-stream rules reset' goes back")


async def _load(merchant: str) -> Any:
    from canary_stream.db.merchants import resolve

    async with database(settings()) as engine, engine.connect() as conn:
        return await resolve(conn, merchant)


def _parse_assignments(assignments: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"expected NAME=VALUE, got {item!r} (e.g. count=7)")
        out[name.strip()] = value.strip()
    return out


async def _publish(cfg: Any, merchant_id: Any) -> Any:
    """Publish the merchant's full config record from the database."""
    from canary_stream import topics
    from canary_stream.db.merchants import resolve
    from canary_stream.kafka import publish

    async with database(cfg) as engine, engine.connect() as conn:
        config = await resolve(conn, str(merchant_id))
    await publish(cfg, cfg.topic(topics.MERCHANT_CONFIG), str(merchant_id).encode(), [config])
    return config


@app.command("set")
@one_line_errors
def set_(
    rule_id: str = typer.Argument(..., help="Rule id, e.g. C-005"),
    assignments: list[str] = typer.Argument(None, help="Thresholds as NAME=VALUE"),
    merchant: str = typer.Option(..., "--merchant", help="Merchant UUID or Square merchant id"),
    enable: bool | None = typer.Option(None, "--enable/--disable", help="Turn the rule on/off"),
    mode: str | None = typer.Option(None, "--mode", help="alerting or dry_run"),
    allow: list[str] = typer.Option(
        None, "--allow", help="Allow-list entry KIND:ID (employee, location, card, ...)"
    ),
    disallow: list[str] = typer.Option(None, "--disallow", help="Remove an allow-list entry"),
    location: str | None = typer.Option(
        None, "--location", help="C-004 only: set this location's business_hours"
    ),
) -> None:
    """Change one rule for one merchant, then publish the merchant's config.

    Example: canary-stream rules set C-005 count=7 window_seconds=1800 --merchant ML123
    """
    from canary_stream.db import rule_settings
    from canary_stream.db.merchants import resolve
    from canary_stream.rules.catalog import spec_for, validate_allow_lists, validate_thresholds

    spec = spec_for(rule_id)
    values = _parse_assignments(assignments or [])
    typed = {name: spec.threshold(name).parse(text) for name, text in values.items()}
    checked = validate_thresholds(spec, typed)
    if mode is not None and mode not in ("alerting", "dry_run"):
        raise ConfigError(f"--mode must be alerting or dry_run, got {mode!r}")
    if location is not None and (spec.rule_id != "C-004" or set(checked) != {"business_hours"}):
        raise ConfigError("--location takes exactly C-004 business_hours=HH:MM-HH:MM")
    cfg = settings()

    async def go() -> str:
        async with database(cfg) as engine, engine.begin() as conn:
            found = await resolve(conn, merchant)
            if location is not None:
                await rule_settings.set_location_hours(
                    conn, found.merchant_id, location, checked["business_hours"]
                )
            else:
                current = await rule_settings.stored(conn, found.merchant_id, spec.rule_id)
                thresholds = {**(current.get("thresholds") or {}), **checked}
                lists = {k: set(v) for k, v in (current.get("allow_lists") or {}).items()}
                for entry in allow or []:
                    kind, _, ident = entry.partition(":")
                    lists.setdefault(kind, set()).add(ident)
                for entry in disallow or []:
                    kind, _, ident = entry.partition(":")
                    lists.get(kind, set()).discard(ident)
                await rule_settings.save(
                    conn,
                    found.merchant_id,
                    spec.rule_id,
                    enabled=current.get("enabled", True) if enable is None else enable,
                    mode=mode if mode is not None else current.get("mode"),
                    thresholds=validate_thresholds(spec, thresholds),
                    allow_lists=validate_allow_lists({k: sorted(v) for k, v in lists.items()}),
                )
        await _publish(cfg, found.merchant_id)
        return str(found.merchant_id)

    merchant_id = run(go())
    where = f" at location {location}" if location else ""
    print(f"{spec.rule_id} updated for merchant {merchant_id}{where}; config published")


@app.command()
@one_line_errors
def reset(
    rule_id: str | None = typer.Argument(None, help="Rule id; omit to reset every rule"),
    merchant: str = typer.Option(..., "--merchant", help="Merchant UUID or Square merchant id"),
) -> None:
    """Put one rule (or all) back to the catalog defaults for one merchant.

    Example: canary-stream rules reset C-005 --merchant ML123
    """
    from canary_stream.db import rule_settings
    from canary_stream.db.merchants import resolve
    from canary_stream.rules.catalog import spec_for

    spec_id = spec_for(rule_id).rule_id if rule_id is not None else None
    cfg = settings()

    async def go() -> tuple[str, int]:
        async with database(cfg) as engine, engine.begin() as conn:
            found = await resolve(conn, merchant)
            removed = await rule_settings.reset(conn, found.merchant_id, spec_id)
        await _publish(cfg, found.merchant_id)
        return str(found.merchant_id), removed

    merchant_id, removed = run(go())
    what = spec_id or "every rule"
    print(f"{what} back to defaults for merchant {merchant_id} ({removed} setting(s) removed)")
