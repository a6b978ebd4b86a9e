"""The direction of imports (README, Architecture), checked on every module's syntax tree.

api → workflows → activities → ledger → rules → core → models; `ops/` and `worker.py` wire
them; `stripe_emulator/` stands alone. A module may import only the packages its layer
allows, wherever the import sits (top level, inside a function, inside
`imports_passed_through`); the rules import neither Temporal nor FastAPI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {
    "api", "workflows", "activities", "ledger", "rules", "core", "models", "ops", "worker",
    "stripe_emulator", "migrations",
}
# What each layer may import of ours (its own package always).
ALLOWED: dict[str, set[str]] = {
    "models": set(),
    "core": {"models"},
    "rules": {"core", "models"},
    "ledger": {"core", "models"},
    "activities": {"ledger", "rules", "core", "models"},
    "workflows": {"activities", "core", "models"},
    # The support trace is an operator tool that the admin route also serves.
    "api": {"workflows", "ledger", "rules", "core", "models", "ops.trace"},
    "worker": {"activities", "workflows", "ledger", "core", "models"},
    "ops": {"worker", "ledger", "rules", "core", "models"},
    "migrations": {"core", "models"},
    "stripe_emulator": set(),
}
# Third-party packages a layer must not touch.
FORBIDDEN_THIRD_PARTY = {"rules": {"temporalio", "fastapi"}, "models": {"fastapi", "temporalio"}}


def imported_modules(source: str) -> set[str]:
    """Every absolute module name an import statement in `source` names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def violations(layer: str, source: str) -> list[str]:
    """The imports of a module of `layer` that break the contract."""
    allowed = ALLOWED[layer] | {layer}
    found = []
    for name in sorted(imported_modules(source)):
        top = name.split(".")[0]
        if top in FIRST_PARTY and not any(
            name == ok or name.startswith(ok + ".") for ok in allowed
        ):
            found.append(name)
        if top in FORBIDDEN_THIRD_PARTY.get(layer, set()):
            found.append(name)
    # "from pkg import module" names both; report each offence once.
    return sorted({n for n in found if not any(n.startswith(o + ".") for o in found)})


def layer_of(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0].removesuffix(".py")


def source_files() -> list[Path]:
    files = [ROOT / "worker.py"]
    for package in ALLOWED:
        folder = ROOT / package
        if folder.is_dir():
            files.extend(p for p in folder.rglob("*.py") if "versions" not in p.parts)
    return sorted(files)


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_what_its_layer_allows(path: Path) -> None:
    assert violations(layer_of(path), path.read_text()) == []


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("api", "from activities.registry import build_activities"),
        ("api", "def f():\n    from activities import deps\n"),
        ("rules", "from temporalio.exceptions import ApplicationError"),
        ("rules", "import fastapi"),
        ("rules", "from activities.deps import ActivityDeps"),
        ("core", "from rules.events import HANDLERS"),
        ("models", "from core.config import Settings"),
        ("workflows", "from ledger import events"),
        ("ledger", "import worker"),
        ("stripe_emulator", "from core.config import Settings"),
        ("api", "from ops.cli import main"),
    ],
)
def test_a_forbidden_import_is_caught(layer: str, source: str) -> None:
    assert violations(layer, source), f"{layer} may not run: {source!r}"


def test_allowed_imports_pass() -> None:
    assert violations("api", "from ops.trace import build_trace\nfrom rules import x") == []
    assert violations("activities", "from ledger import events as ledger") == []
