"""A chunk's columns: every record's text exactly as read, in order, the open-person flags beside them; what
staging's process hands the suite's worker, without pandas."""

from __future__ import annotations

import subprocess
import sys

from lianban.domain.columns import TEXT_COLUMNS, columns
from lianban.domain.rules.frame import frame_of, from_rows


def test_each_column_holds_every_rows_text_as_read_in_order() -> None:
    rows = [{"case_no": "BZ1", "items": ("01", "13"), "contribution_months": 180, "name": "张三"},
            {"case_no": "BZ2", "phone": None, "employer_name": "亳州\u3000公司 "}]
    data = columns(rows, [True, False])
    assert list(data) == [*TEXT_COLUMNS, "person_open"]
    assert data["case_no"] == ["BZ1", "BZ2"] and data["items"] == ["01,13", ""]
    assert data["contribution_months"] == ["180", ""] and data["name"] == ["张三", ""]
    assert data["employer_name"] == ["", "亳州\u3000公司 "] and data["phone"] == ["", ""]
    assert data["person_open"] == [True, False] and columns(rows)["person_open"] == [False, False]


def test_the_frame_of_the_columns_is_the_frame_of_the_rows() -> None:
    rows = [{"case_no": "BZ1", "id_number": "11010519491231002X"}, {"case_no": "BZ2", "approved_at": "2026"}]
    made = frame_of(columns(rows, [False, True]))
    assert made.equals(from_rows(rows, [False, True]))
    assert made["person_open"].tolist() == [False, True] and str(made["case_no"].dtype).startswith("str")


def test_staging_s_own_process_does_not_import_pandas() -> None:
    """The suite's worker makes the frames: pandas (a third of a second to import) is not staging's."""
    probe = ("import sys, lianban.pipeline.stage, lianban.app.jobs; from lianban.domain.columns import columns; "
             "columns([{'case_no': 'BZ1'}]); print('pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
