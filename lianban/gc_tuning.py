"""How often CPython's cyclic garbage collector runs in lianban's processes (outside the layers, like errors:
every process's entry point calls :func:`tune`).

CPython collects its youngest generation every 700 container objects made (net of those freed), and all three
whenever a quarter more objects have reached the oldest since its last pass. A step that holds hundreds of
thousands of objects while it makes and drops as many per chunk (staging's read-ahead, a deliver run's
batches, a simulator's cases) ages each chunk's objects into the oldest generation before they die, and then
walks everything it holds, again and again: staging 100,000 rows ran 53 full collections in 8.2 of its
39.3 s. With the youngest collected every 50,000 objects, what a chunk makes and drops is gone before it
ages: the same run made no full collection and spent 1.4 s collecting in all. Reference cycles are still
collected, a little later; peak memory did not move (377 → 379 MB).

The same call sets glibc's allocator for the same work (:func:`tune_malloc`): one arena for all of a process's
threads, and blocks of 128 KiB and more mapped on their own, returned when freed.
"""

from __future__ import annotations

import ctypes
import gc

#: (youngest, middle, oldest): objects made before the youngest generation is collected, then collections of
#: each generation before the next is (CPython's defaults: 700, 10, 10)
THRESHOLDS = (50_000, 20, 10)
#: glibc's mallopt settings: (parameter, value). M_ARENA_MAX 1: a thread that frees what another made (a pipe's
#: answers unpickled in an executor's thread, used and dropped in the main one) does not keep an arena of its own
#: full of freed pages. M_MMAP_THRESHOLD 128 KiB, fixed: glibc otherwise raises it each time such a block is freed,
#: up to 32 MiB, after which a chunk's pickled megabytes come from the heap and leave holes in it. Staging 100,000
#: rows: its process's peak 190 → 171 MB, the suite's worker and the preparing process 3 MB less each, the run as
#: fast (22.6 and 23.7 s against 22.6)
MALLOC_OPTIONS = ((-8, 1), (-3, 128 * 1024))  # (M_ARENA_MAX, 1), (M_MMAP_THRESHOLD, 128 KiB)


def tune() -> None:
    """Set this process's collector for batch work (once is enough; again changes nothing)."""
    gc.set_threshold(*THRESHOLDS)
    tune_malloc()


def tune_malloc() -> bool:
    """Set :data:`MALLOC_OPTIONS` in this process's C library; False where it is not glibc (nothing changed)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: its C library's among them
    except AttributeError:  # a C library without it (musl)
        return False
    return all(mallopt(option, value) == 1 for option, value in MALLOC_OPTIONS)
