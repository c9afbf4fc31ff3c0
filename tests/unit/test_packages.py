"""`tables` and `agents` are also import names of PyTables and openai-agents: ours must win."""

from __future__ import annotations

from pathlib import Path

import agents
import tables

ROOT = Path(__file__).resolve().parents[2]


def test_agents_and_tables_are_this_projects_packages():
    assert Path(agents.__file__).resolve().parent == ROOT / "agents"
    assert Path(tables.__file__).resolve().parent == ROOT / "tables"


def test_every_stage_module_names_its_stage():
    import importlib
    import pkgutil

    from canary_stream.apps import STAGES

    for package in (agents, tables):
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            assert module.STAGE in STAGES, module.__name__
            assert callable(module.register)
