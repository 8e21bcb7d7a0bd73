"""The package's layers import only downward, and its modules stay readable in size."""

from __future__ import annotations

import ast
from pathlib import Path

import resonant_ad

PACKAGE = Path(resonant_ad.__file__).parent
#: lower layers first; a module may import its own layer and the ones before it
LAYERS = ("core", "stats", "stages", "studies", "pipeline", "bench")
STUDIES = ("toy", "dijet", "ditau")
MAX_LINES = 450


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Absolute names of the package modules ``path`` imports (relative imports resolved)."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[: len(rel) - node.level])
                found.add(".".join(base + ([node.module] if node.module else [])))
            else:
                found.add(node.module or "")
    return {name for name in found if name.split(".")[0] == "resonant_ad"}


def _layer(name: str) -> tuple[int, str | None]:
    parts = name.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        return -1, None  # the package itself
    study = parts[2] if parts[1] == "studies" and len(parts) > 2 else None
    return LAYERS.index(parts[1]), study


def test_every_module_lives_in_a_layer():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == []


def test_imports_only_go_down():
    wrong = []
    for path in _modules():
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        layer, study = _layer(name)
        for imported in _imports(path):
            other, other_study = _layer(imported)
            if other > layer or (
                layer == other == LAYERS.index("studies")
                and study
                and other_study
                and other_study != study
            ):
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_modules_stay_readable():
    long = {p.name: n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
