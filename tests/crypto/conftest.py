"""The SM suite on each SM2 engine: the native fast path (gmssl-pyx) and the pure-Python fallback (gmalg)."""

from __future__ import annotations

import gmssl_pyx
import pytest

from lianban.crypto import sm2
from lianban.crypto.suites import SMSuite

ENGINES: dict[str, sm2.SM2Engine] = {"gmssl-pyx": sm2.NativeSM2(gmssl_pyx), "gmalg": sm2.PureSM2()}


@pytest.fixture(scope="module", params=sorted(ENGINES))
def sm(request: pytest.FixtureRequest) -> SMSuite:
    """The SM suite on one engine; a test taking it runs once per engine."""
    return SMSuite(ENGINES[request.param])
