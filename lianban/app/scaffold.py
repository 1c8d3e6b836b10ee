"""`lianban connectors new NAME`: a new REST department, ready for its IT staff to fill in.

Writes, under a repository root (the checkout by default)::

    connectors/NAME/__init__.py, connector.py, statuses.py, README.md   the package (declarations only)
    schemas/NAME/openapi.yaml                                           the API document stub
    tests/connectors/NAME/test_NAME.py                                  its own tests (fail until tables filled)

The connector subclasses :class:`connectors._rest.RestDepartmentConnector`, so the shared REST simulator
(``simulators/rest_department.py``) and the shared contract suite serve it as they are. Registering it in
``schemas/catalog/departments.yaml`` is one line (:func:`catalog_line`), written only when asked.
Templates live in ``lianban/app/templates/connector/`` with ``{{placeholder}}`` markers. Registering also lists
the new package in ``.importlinter``'s independence contract (connectors never import each other).
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from lianban.errors import ConfigError

__all__ = ["Scaffold", "catalog_line", "plan", "register_department", "scaffold"]

REPO = Path(__file__).resolve().parents[2]  # the source checkout (dags/, connectors/)
TEMPLATES = Path(__file__).resolve().parent / "templates" / "connector"
CATALOG = Path("schemas") / "catalog" / "departments.yaml"
IMPORT_RULES = Path(".importlinter")
#: the line after which department packages are listed in IMPORT_RULES' independence contract
INDEPENDENCE = "type = independence\nmodules =\n"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_PLAIN_YAML = re.compile(r"[\w（）·-]+")

#: template file → where it goes, relative to the root ({name} is the department key)
FILES: dict[str, str] = {
    "__init__.py.tmpl": "connectors/{name}/__init__.py",
    "connector.py.tmpl": "connectors/{name}/connector.py",
    "statuses.py.tmpl": "connectors/{name}/statuses.py",
    "README.md.tmpl": "connectors/{name}/README.md",
    "openapi.yaml.tmpl": "schemas/{name}/openapi.yaml",
    "test_connector.py.tmpl": "tests/connectors/{name}/test_{name}.py",
}

#: directories that must not exist yet (one department = one package, one schema folder, one test folder)
DIRS = ("connectors/{name}", "schemas/{name}", "tests/connectors/{name}")


@dataclass(frozen=True)
class Scaffold:
    """One department to scaffold: its key, its Chinese name, and the repository root to write under."""

    name: str
    title: str
    root: Path = REPO

    @property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_")) + "Connector"

    @property
    def values(self) -> dict[str, str]:
        return {"name": self.name, "upper_name": self.name.upper(), "title": self.title,
                "class_name": self.class_name}


def render(template: str, values: dict[str, str]) -> str:
    """`template` with every ``{{key}}`` replaced; an unknown key is a bug in the template."""

    def value(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise ConfigError(f"template placeholder {{{{{match.group(1)}}}}} has no value") from None

    return _PLACEHOLDER.sub(value, template)


def _registered(root: Path) -> set[str]:
    try:
        data = yaml.safe_load((root / CATALOG).read_text(encoding="utf-8")) or {}
        return {str(d["key"]) for d in data.get("departments") or ()}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"cannot read {root / CATALOG} ({type(exc).__name__})") from None


def check_name(spec: Scaffold) -> None:
    """Refuse a name that is not a lower-case identifier, or one already taken (catalog or files)."""
    if not NAME_PATTERN.fullmatch(spec.name) or keyword.iskeyword(spec.name):
        raise ConfigError(f"部门名 {spec.name!r} 不可用：须为小写字母开头、只含小写字母/数字/下划线的 Python 标识符"
                          f"（如 civil_affairs） / {spec.name!r} is not a valid department key: use a lower-case "
                          f"Python identifier such as civil_affairs")
    if spec.name in _registered(spec.root):
        raise ConfigError(f"部门 {spec.name!r} 已在 {CATALOG} 中注册 / department {spec.name!r} is already "
                          f"registered; pick another name")
    taken = [d.format(name=spec.name) for d in DIRS if (spec.root / d.format(name=spec.name)).exists()]
    if taken:
        raise ConfigError(f"部门 {spec.name!r} 的目录已存在（{', '.join(taken)}），不会覆盖 / "
                          f"{', '.join(taken)} already exist; nothing was written")


def plan(spec: Scaffold) -> dict[str, str]:
    """Relative path → rendered content of every file to write."""
    return {target.format(name=spec.name): render((TEMPLATES / template).read_text(encoding="utf-8"), spec.values)
            for template, target in FILES.items()}


def scaffold(spec: Scaffold) -> list[Path]:
    """Write the new department's files under ``spec.root``; the paths written. Nothing is overwritten."""
    check_name(spec)
    written = []
    for rel, content in plan(spec).items():
        path = spec.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def _yaml_scalar(text: str) -> str:
    return text if _PLAIN_YAML.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def catalog_line(spec: Scaffold) -> str:
    """The line registering the department in ``schemas/catalog/departments.yaml``."""
    return (f"  - {{key: {spec.name}, name: {_yaml_scalar(spec.title)}, transport: rest, "
            f"connector: connectors.{spec.name}.connector:{spec.class_name}}}")


def register_department(spec: Scaffold) -> Path:
    """Append :func:`catalog_line` to the catalog under ``spec.root`` and list the package in the import rules
    (when the root has them); the catalog's path."""
    path = spec.root / CATALOG
    text = path.read_text(encoding="utf-8")
    path.write_text(text + ("" if text.endswith("\n") else "\n") + catalog_line(spec) + "\n", encoding="utf-8")
    rules = spec.root / IMPORT_RULES
    if rules.exists():
        text = rules.read_text(encoding="utf-8")
        if INDEPENDENCE not in text:
            raise ConfigError(f"{rules}: no independence contract to list connectors.{spec.name} in")
        rules.write_text(text.replace(INDEPENDENCE, f"{INDEPENDENCE}    connectors.{spec.name}\n", 1),
                         encoding="utf-8")
    return path
