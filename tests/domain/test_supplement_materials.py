"""Material codes read the same whether a department sends them as text or as a list."""

from __future__ import annotations

from lianban.domain.supplements import read_materials


def test_full_width_codes_in_a_list_read_as_in_text() -> None:
    assert read_materials("Ｍ０３，m01") == ("M03", "M01")
    assert read_materials(["Ｍ０３", " m01", "M03"]) == ("M03", "M01")  # a JSON list (REST) or SOAP elements
