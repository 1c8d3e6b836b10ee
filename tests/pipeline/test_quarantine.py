"""What an operator is shown of a held row (:func:`lianban.pipeline.quarantine.masked`)."""

from __future__ import annotations

from lianban.pipeline.quarantine import SHOWN_MAX, masked

ID = "341621196501010014"  # synthetic: a valid check character, no real person
PHONE = "13912345678"


def test_a_phone_typed_among_the_chosen_items_is_masked() -> None:
    shown = masked({"items": ("01", "11", PHONE)})
    assert shown["items"] == ["01", "11", "139****5678"]


def test_an_id_number_across_the_cut_is_masked_before_the_value_is_cut() -> None:
    employer = "某" * (SHOWN_MAX - 10) + ID
    shown = masked({"employer_name": employer})["employer_name"]
    assert len(shown) == SHOWN_MAX and ID[:10] not in shown and shown.endswith("341621****")
