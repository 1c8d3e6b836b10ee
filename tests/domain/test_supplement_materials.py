"""Material codes read the same whether a department sends them as text or as a list."""

from __future__ import annotations

import pytest

from lianban.domain.supplements import UnknownMaterial, read_materials


def test_full_width_codes_in_a_list_read_as_in_text() -> None:
    assert read_materials("Ｍ０３，m01") == ("M03", "M01")
    assert read_materials(["Ｍ０３", " m01", "M03"]) == ("M03", "M01")  # a JSON list (REST) or SOAP elements


def test_an_unknown_code_that_is_a_phone_number_is_not_echoed_in_the_reason() -> None:
    with pytest.raises(UnknownMaterial) as refused:
        read_materials("M01、13812345678、M99")
    assert "13812345678" not in str(refused.value) and "5678" not in str(refused.value)
    assert "'M99'" in str(refused.value) and "（非编码内容）" in str(refused.value)
