"""The split-until-single-items mechanism deliver and report share (lianban.pipeline.bisect)."""

from __future__ import annotations

from collections.abc import Sequence

from lianban.pipeline.bisect import Refusal, isolate, systemic


def receiver(poison: set[int], stop_at: list[int] | None = None) -> tuple[list[list[int]], object]:
    sent: list[list[int]] = []

    def attempt(batch: Sequence[int]) -> bool | Refusal[int]:
        sent.append(list(batch))
        if list(batch) == stop_at:  # e.g. the department goes down
            return False
        return Refusal(batch, "422", "bad item") if poison & set(batch) else True

    return sent, attempt


def test_one_poison_item_is_isolated_and_the_rest_go_through() -> None:
    sent, attempt = receiver({37})
    isolated = isolate(list(range(100)), attempt)  # type: ignore[arg-type]
    refused_batches = [b for b in sent if 37 in b]
    assert isolated.going and isolated.refused == [(37, "422", "bad item")]
    assert isolated.splits == len(refused_batches) - 1 <= 7  # one split per level, down to the single item
    delivered = {i for batch in sent if 37 not in batch for i in batch}
    assert delivered == set(range(100)) - {37} and not systemic(range(100), isolated)


def test_every_item_refused_alone_is_systemic() -> None:
    _, attempt = receiver(set(range(4)))
    isolated = isolate([0, 1, 2, 3], attempt)  # type: ignore[arg-type]
    assert len(isolated.refused) == 4 and systemic([0, 1, 2, 3], isolated)
    single = isolate([0], attempt)  # type: ignore[arg-type]
    assert single.refused == [(0, "422", "bad item")] and not systemic([0], single)


def test_a_stop_ends_the_splitting() -> None:
    sent, attempt = receiver({1, 6}, stop_at=[4, 5, 6, 7])
    isolated = isolate(list(range(8)), attempt)  # type: ignore[arg-type]
    assert not isolated.going and isolated.refused == [(1, "422", "bad item")]
    assert sent[-1] == [4, 5, 6, 7]  # the half that said stop is not split further


def by_form(poison: set[int], stop_at: list[int] | None = None) -> object:
    """A receiver refusing any request holding `poison` with a code that names the request's form."""

    def attempt(batch: Sequence[int]) -> bool | Refusal[int]:
        if list(batch) == stop_at:
            return False
        return Refusal(batch, "INVALID_REQUEST", "form", of_request=True) if poison & set(batch) else True

    return attempt


def test_a_refusal_of_the_form_shows_a_single_item_at_fault_only_if_the_rest_got_through() -> None:
    isolated = isolate([0, 1, 2, 3], by_form({2}))  # type: ignore[arg-type]
    assert isolated.refused == [(2, "INVALID_REQUEST", "form")] and isolated.unproven == []
    alone = isolate([5], by_form({5}))  # type: ignore[arg-type]
    assert alone.refused == [(5, "INVALID_REQUEST", "form")] and alone.unproven == [5]
    stopped = isolate([0, 1], by_form({0}, stop_at=[1]))  # type: ignore[arg-type]
    assert not stopped.going and stopped.unproven == [0]  # nothing else passed: the form may be the fault


def test_an_item_refused_by_its_own_code_is_never_unproven() -> None:
    _, attempt = receiver({0})
    assert isolate([0], attempt).unproven == []  # type: ignore[arg-type]
