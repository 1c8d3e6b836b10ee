"""Beijing time (lianban.domain.clock): the fixed offset agrees with the tz database for every time the hub
handles (China has kept UTC+8 without daylight saving since 1991)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from lianban.domain.clock import BEIJING


def test_the_fixed_offset_is_asia_shanghai_from_1992_on() -> None:
    shanghai, moment = ZoneInfo("Asia/Shanghai"), datetime(1992, 1, 1, tzinfo=UTC)
    while moment.year < 2100:
        assert moment.astimezone(BEIJING).isoformat() == moment.astimezone(shanghai).isoformat()
        moment += timedelta(days=97, hours=5)
