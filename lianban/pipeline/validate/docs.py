"""Data Docs (issue 11 §4): each staging run's validation results rendered by Great Expectations as HTML,
with no personal value in them.

A run's :class:`RunDocs` keeps its own ephemeral GX context with one filesystem Data Docs site under the
directory it is given (the hub's home decides where: ``<LIANBAN_HOME>/data_docs/<run>``), takes each chunk's
suite result, keeps only what carries no value (per expectation: success, counts, percentages and the
unexpected row numbers within the chunk; the rule's code and message), and renders the site once when the
run ends. What is dropped: every unexpected value GX collects (``unexpected_list``, ``partial_unexpected_*``,
``unexpected_rows``), which would hold ID numbers, names and phones.

The masked results wait for the rendering on disk, in a directory of the run's own removed once the site is
rendered: an ephemeral context's store kept them in memory, one per run of the suite, until the run ended (the
suite's worker peaked at 268 MB staging 100,000 rows and at 281 MB staging a million).
"""

from __future__ import annotations

import copy
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: result keys that never hold a value from the data; every other key is dropped
KEPT_RESULT_KEYS = ("element_count", "unexpected_count", "unexpected_percent", "unexpected_percent_total",
                    "unexpected_percent_nonmissing", "missing_count", "missing_percent", "unexpected_index_list")
SITE = "lianban"


def masked(result: Any) -> Any:
    """A copy of a suite validation result without any value from the data."""
    clean = copy.deepcopy(result)
    for outcome in clean.results:
        outcome.result = {k: v for k, v in (outcome.result or {}).items() if k in KEPT_RESULT_KEYS}
    clean.meta["batch_parameters"] = None
    return clean


class RunDocs:
    """The Data Docs of one staging run, written under `directory`; its GX context is made on first need
    (:meth:`prepare`, safe from any thread)."""

    def __init__(self, directory: Path, run_name: str | None = None) -> None:
        self.directory = directory
        self.run_name = run_name
        self.chunks = 0
        self._made: tuple[Any, Any] | None = None  # (context, run id)
        self._making = threading.Lock()
        self._results: tempfile.TemporaryDirectory[str] | None = None  # the results until rendered

    def prepare(self) -> tuple[Any, Any]:
        """The run's ephemeral context with its filesystem site, and its run id (made once; imports GX)."""
        with self._making:
            if self._made is None:
                self._made = self._make()
            return self._made

    def _make(self) -> tuple[Any, Any]:
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

        self._results = tempfile.TemporaryDirectory(prefix="lianban-gx-results-")
        config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults())
        config.stores["validation_results_store"] = {"class_name": "ValidationResultsStore", "store_backend": {
            "class_name": "TupleFilesystemStoreBackend", "base_directory": self._results.name}}
        context = gx.get_context(project_config=config, mode="ephemeral")
        context.enable_analytics(False)
        context.add_data_docs_site(SITE, {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.directory)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
        now = datetime.now(UTC)
        return context, RunIdentifier(run_name=self.run_name or f"stage-{now:%Y%m%dT%H%M%SZ}", run_time=now)

    def add(self, result: Any) -> None:
        """Keep one chunk's result (masked) for the run's docs."""
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        context, run_id = self.prepare()
        self.chunks += 1
        suite = ExpectationSuiteIdentifier(name=result.suite_name)
        key = ValidationResultIdentifier(suite, run_id, f"chunk-{self.chunks:05d}")
        context.validation_results_store.set(key, masked(result))

    def build(self) -> Path | None:
        """Render the site; its index page (None when no chunk was validated)."""
        if not self.chunks:
            return None
        self.prepare()[0].build_data_docs(site_names=[SITE])
        if self._results is not None:
            self._results.cleanup()
        return self.directory / "index.html"
