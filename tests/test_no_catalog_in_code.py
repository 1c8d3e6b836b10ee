"""The core names no item and no department (ROADMAP: any 一件事 by configuration): item codes, department keys
and what each brings (fields, time limits, results, who completes what, which is the window) are catalog data.

Every text constant in ``lianban/`` is read, docstrings aside; one equal to a catalog item code or department key
is code branching on the catalog. The provincial platform 皖事通办 is the hub's own peer, the same for every
一件事.
"""

from __future__ import annotations

import ast
from pathlib import Path

from lianban.domain.catalog import load_catalog

CORE = Path(__file__).resolve().parents[1] / "lianban"
PLATFORM = "wanshi_tong"
#: a file whose numbers are not item codes: the runbook's sections of the alert kinds
NUMBERED = "domain/incidents.py"
#: (file, text) pairs that are not the catalog's: why each may stay
ALLOWED = {
    ("app/up.py", "10"): "a heartbeat timeout of 10 seconds, not item 10",
    ("app/dashboard/board.py", "health"): "the dashboard's connection checks, not the health department",
    ("app/dashboard/page.py", "health"): "the dashboard's connection checks, not the health department",
}


def _docstrings(tree: ast.AST) -> set[int]:
    bodies = (n.body for n in ast.walk(tree)
              if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and n.body)
    return {id(b[0].value) for b in bodies if isinstance(b[0], ast.Expr) and isinstance(b[0].value, ast.Constant)}


def catalog_names_in(path: Path, names: set[str]) -> list[tuple[int, str]]:
    """(line, text) of each text constant of `path` in `names`, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in names and id(n) not in docs]


def test_the_core_names_no_item_and_no_department() -> None:
    catalog = load_catalog()
    names = (set(catalog.items) | set(catalog.departments)) - {PLATFORM}
    found = [f"{path.relative_to(CORE)}:{line}: {text!r}" for path in sorted(CORE.rglob("*.py"))
             for line, text in catalog_names_in(path, names)
             if (path.relative_to(CORE).as_posix(), text) not in ALLOWED
             and not (path.relative_to(CORE).as_posix() == NUMBERED and text.isdigit())]
    assert found == []


def test_a_department_named_in_the_core_is_found(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""hrss in a docstring is prose."""\nPAYER = "hrss"\nif code == "13":\n    pass\n',
                      encoding="utf-8")
    assert catalog_names_in(module, {"hrss", "13"}) == [(2, "hrss"), (3, "13")]
