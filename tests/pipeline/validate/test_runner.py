"""The validator's process: what GX imports for an expectation the suite never uses is loaded only if touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lianban.pipeline.validate.runner import defer_imports

ROOT = Path(__file__).resolve().parents[3]


def test_a_deferred_module_runs_when_first_read_and_not_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "deferred_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "heavy.py").write_text("import builtins\nbuiltins.heavy_runs = getattr(builtins, 'heavy_runs', 0) + 1\n"
                                      "def answer():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import builtins

    try:
        defer_imports(("deferred_pkg.heavy", "no_such_module_here"))  # one that is not installed is left alone
        import deferred_pkg.heavy as same  # as it imports Altair (``import altair as alt``)
        from deferred_pkg import heavy  # as GX imports SciPy's statistics (``from scipy import stats``)

        assert sys.modules["deferred_pkg.heavy"] is heavy is same and getattr(builtins, "heavy_runs", 0) == 0
        assert heavy.answer() == 42 and builtins.heavy_runs == 1  # type: ignore[attr-defined]
        heavy.answer()
        assert builtins.heavy_runs == 1  # type: ignore[attr-defined]
        assert sys.modules["deferred_pkg.heavy"] is not heavy and sys.modules["deferred_pkg"].heavy.answer() == 42
    finally:
        for name in ("deferred_pkg.heavy", "deferred_pkg"):
            sys.modules.pop(name, None)
        if hasattr(builtins, "heavy_runs"):
            delattr(builtins, "heavy_runs")


def test_the_suite_is_built_without_running_scipy_stats_or_altair_which_still_work_when_touched() -> None:
    probe = ("import sys\n"
             "from lianban.pipeline.validate.runner import validator\n"
             "validator()\n"
             "print(type(sys.modules['scipy.stats']).__name__, type(sys.modules['altair']).__name__,\n"
             "      'altair.vegalite' in sys.modules)\n"
             "from scipy import stats\n"
             "entropy = stats.entropy([0.5, 0.5], [0.9, 0.1])\n"
             "from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl\n"
             "chart = kl.alt.Chart({'values': [{'x': 1}]}).mark_bar().encode(x='x:Q')\n"
             "print(round(float(entropy), 4), type(sys.modules['scipy.stats']).__name__, type(chart).__name__,\n"
             "      type(sys.modules['altair']).__name__)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    assert done.stdout.split() == ["_Deferred", "_Deferred", "False", "0.5108", "module", "Chart", "module"]
