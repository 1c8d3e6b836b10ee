"""A ledger behind the code's migrations (an upgrade that skipped `lianban init`) is refused by every command
that uses it, in one Chinese sentence saying how to upgrade: used as it is, a step met a column or table that
is not there (a bare database error) or, behind a data migration alone (0020), went on over its unmasked text."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from lianban.app.config import Paths
from lianban.errors import ConfigError
from lianban.ledger.db import HEAD_REVISION, alembic_config, engine_for
from tests.app.cli_kit import lianban


def test_the_head_revision_is_the_newest_migration(paths: Paths) -> None:
    assert ScriptDirectory.from_config(alembic_config(paths.ledger_url)).get_current_head() == HEAD_REVISION


@pytest.mark.parametrize("revision", ["0019", "0020"])
def test_a_ledger_behind_is_refused_with_how_to_upgrade(paths: Paths, revision: str) -> None:
    command.downgrade(alembic_config(paths.ledger_url), revision)
    engine_for(paths.ledger_url).dispose()
    with pytest.raises(ConfigError, match=f"台账数据库结构版本 {revision}.*{HEAD_REVISION}.*lianban init"):
        paths.existing_ledger()


def test_an_up_to_date_ledger_is_used(paths: Paths) -> None:
    assert paths.existing_ledger() == paths.ledger_url


def test_the_cli_on_a_ledger_behind_says_so(paths: Paths) -> None:
    command.downgrade(alembic_config(paths.ledger_url), "0016")
    done = lianban(Path(paths.home), "status")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "台账数据库结构版本 0016" in done.stdout and "lianban init" in done.stdout
