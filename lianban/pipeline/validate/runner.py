"""Great Expectations, used directly: one ephemeral data context per process, a pandas data source with one
dataframe asset and a whole-dataframe batch definition, the suite built from the domain rules, and one
validation definition run per chunk (the chunk passed as the batch's dataframe).

:func:`validator` builds all of it once per process (the first call imports GX: seconds; staging runs it in a
worker process of its own, :mod:`lianban.pipeline.validate.worker`); :meth:`ChunkValidator.run`
derives the chunk's shared columns, runs the suite and turns each expectation's unexpected row indexes into
per-row :class:`lianban.domain.rules.Reason`, in rule order.

Result format: ``COMPLETE`` (the only one that lists every unexpected index) without unexpected rows and
with ``partial_unexpected_count`` 0; values GX lists anyway are never read nor rendered (the Data Docs are
built from a masked copy, :mod:`lianban.pipeline.validate.docs`).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

from lianban.domain.catalog import Catalog, load_catalog
from lianban.domain.rules import Reason, Rule, all_rules, reasons_by_row, suite_version
from lianban.domain.rules.frame import derive
from lianban.errors import FatalError

#: what GX imports at its own import for an expectation the suite never uses (KL divergence), loaded only if
#: touched: SciPy's statistics (1.2 of GX's 3.2 s of import on the 2-core machine, 59 MB) and Altair, for that
#: expectation's charts (22 MB; its module imports it with ``import altair as alt``, which a lazy module cannot
#: wait out: the import statement reads the module's spec, and runs it)
DEFERRED_IMPORTS = ("scipy.stats", "altair")
RESULT_FORMAT = {"result_format": "COMPLETE", "include_unexpected_rows": False, "partial_unexpected_count": 0,
                 "return_unexpected_index_query": False}


@dataclass
class ChunkResult:
    """One chunk's verdict: each row's reasons (empty = valid), and GX's own result (for Data Docs)."""

    reasons: list[list[Reason]]
    gx_result: Any


class ChunkValidator:
    """The suite and its validation definition, built once, run per chunk."""

    def __init__(self, catalog: Catalog, rules: tuple[Rule, ...] | None = None, version: int | None = None) -> None:
        """The suite of `rules` (default: every rule of the catalog), named by `version` (default: the rules'
        data version); GX is imported here."""
        defer_imports(DEFERRED_IMPORTS)
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        from lianban.pipeline.validate.expectations import UnkeptResults, build

        self.version = suite_version() if version is None else version
        self.rules: tuple[Rule, ...] = all_rules(catalog) if rules is None else rules
        self.context = gx.get_context(mode="ephemeral")
        self.context.stores[self.context.validation_results_store_name] = UnkeptResults(  # never kept
            {"class_name": "InMemoryStoreBackend"})
        self.context.enable_analytics(False)
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = self.context.data_sources.add_pandas("lianban").add_dataframe_asset("retirement_records")
        batch = asset.add_batch_definition_whole_dataframe("chunk")
        # the suite saved once with every expectation (adding them one by one re-serialises it each time)
        self.suite = self.context.suites.add(gx.ExpectationSuite(
            name=f"lianban_retirement_v{self.version}",
            expectations=[expectation.instance() for expectation in build(self.rules, self.version)]))
        self.definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"lianban_retirement_v{self.version}_chunk", data=batch, suite=self.suite))

    def run(self, frame: pd.DataFrame) -> ChunkResult:
        """Validate one chunk (:mod:`lianban.domain.rules.frame`; a fresh RangeIndex)."""
        frame = derive(frame.reset_index(drop=True))
        result = self.definition.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT)
        failing: dict[int, list[int]] = {}
        for outcome in result.results:
            config = outcome.expectation_config
            if outcome.success or config is None:
                continue
            if "unexpected_index_list" not in outcome.result:  # a rule that could not run passes nobody
                raise FatalError(f"校验规则 {config.meta.get('code')} 未能执行，本批记录未处理 (a validation rule "
                                 f"failed to run; nothing in this chunk was staged)")
            failing[int(config.meta["rule"])] = sorted(int(i) for i in outcome.result["unexpected_index_list"])
        return ChunkResult(reasons_by_row(frame, self.rules, failing), result)


def defer_imports(names: tuple[str, ...]) -> None:
    """Each module of `names` that is installed and not imported yet is stood in for (:class:`_Deferred`) until
    one of its attributes is first read: then it is imported. Imported by a statement (``import altair as alt``)
    or taken from its package (``from scipy import stats``), as GX does, it stays unread."""
    for name in names:
        if name in sys.modules or importlib.util.find_spec(name) is None:
            continue
        sys.modules[name] = _Deferred(name)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, sys.modules[name])


class _Deferred(types.ModuleType):
    """Stands in for a module not imported yet (:func:`defer_imports`): the first attribute read imports it, and
    it answers that read and every later one (a module holding the stand-in keeps working)."""

    def __getattr__(self, attribute: str) -> Any:  # only for what the stand-in itself lacks
        return getattr(_imported(self), attribute)


_real: weakref.WeakKeyDictionary[_Deferred, types.ModuleType] = weakref.WeakKeyDictionary()  # once imported
_importing = threading.RLock()


def _imported(stand_in: _Deferred) -> types.ModuleType:
    with _importing:
        if stand_in not in _real:
            if sys.modules.get(stand_in.__name__) is stand_in:
                del sys.modules[stand_in.__name__]  # imported for real now (its package's attribute set to it)
            _real[stand_in] = importlib.import_module(stand_in.__name__)
        return _real[stand_in]


_building = threading.Lock()  # one build per process, whichever thread asks first


@cache
def _validator() -> ChunkValidator:
    return ChunkValidator(load_catalog())


def validator() -> ChunkValidator:
    """The process's validator (GX imported and the suite built on first use; a caller while another thread
    builds it waits for that build)."""
    with _building:
        return _validator()
