"""What a department's IT staff add to a copy of the repository for a new item: its catalog line and its
皖事通办 codes (the item's 事项编码 and the department's 办理部门 name)."""

from __future__ import annotations

from pathlib import Path

import yaml


def add_item(root: Path, department: str, item: str, item_name: str, platform: tuple[str, str]) -> None:
    """Item `item` (`item_name`) of `department` pushing name, ID number and phone in 5 working days, and its
    皖事通办 item code and department name (`platform`) in ``schemas/wanshi_tong/codes.yaml``."""
    with open(root / "schemas" / "catalog" / "items.yaml", "a", encoding="utf-8") as items:
        items.write(f'  - {{code: "{item}", name: {item_name}, department: {department}, '
                    'fields: [name, id_number, phone], time_limit_days: 5}\n')
    codes_path = root / "schemas" / "wanshi_tong" / "codes.yaml"
    codes = yaml.safe_load(codes_path.read_text(encoding="utf-8"))
    codes["items"][item], codes["departments"][department] = platform
    codes_path.write_text(yaml.safe_dump(codes, allow_unicode=True, sort_keys=False), encoding="utf-8")


def edit(path: Path, old: str, new: str) -> None:
    """Catalog file `path` with its first `old` made `new`; `old` must be there (an edit that matches nothing would
    test the file as shipped)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} has no {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
