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
