"""What the ledger still needs to open under a vault key (SM4, at rest), so that the key is not retired under it.

A retired vault key opens nothing again (lianban.keys.rings): an outbox row sealed under it that is still to go
(pending, retrying, or a dead letter an operator may requeue) would go dead as 台账密文无法解密, a result sealed
under it would no longer show in the applicant's query or reach 皖事通办, and an SMS notice not delivered yet could
not be sent; nor could the result of an HRSS status row waiting for its case (sealed inside the row's change, JSON
within JSON), applied later, or an unreadable HRSS status row be read again once its code table is fixed (its
fields sealed). Delivered rows are left out: their payload is not read again.
"""

from __future__ import annotations

import json

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from lianban.crypto.passwords import SCHEME
from lianban.domain.sms import EXHAUSTED, MAX_SENDS
from lianban.ledger.models import Case, Delivery, ParkedStatus, SmsNotice, StatusEvent
from lianban.ledger.store import DeliveryState, ParkedState

__all__ = ["passwords_under", "sealed_under"]

#: notices that may still go (lianban.pipeline.sms_notices.may_go): due or sent (its receipt may fail it), invalid
#: (to go once the source holds a valid number), or dead for want of sends (to go once it holds another number):
#: their sealed number is compared with the source's, so their key is still needed
_MAY_GO = or_(SmsNotice.state.not_in(("delivered", "dead")),
              and_(SmsNotice.state == "dead", SmsNotice.attempts >= MAX_SENDS,
                   SmsNotice.reason.startswith(EXHAUSTED, autoescape=True)))


def sealed_under(session: Session, kid: str) -> dict[str, int]:
    """Rows still needed that `kid` sealed, by kind (only kinds with any)."""
    marker = f'"kid": "{kid}"'  # as json.dumps writes a vault envelope (lianban.crypto.vault.seal)
    counts = {
        "deliveries": select(func.count()).select_from(Delivery).where(
            Delivery.key_id == kid, Delivery.state != DeliveryState.ACCEPTED),
        "results": select(func.count()).select_from(StatusEvent).where(
            StatusEvent.result.contains(marker, autoescape=True)),
        "sms_notices": select(func.count()).select_from(SmsNotice).where(
            SmsNotice.sealed.contains(marker, autoescape=True), _MAY_GO),
        "waiting_statuses": select(func.count()).select_from(ParkedStatus).where(
            ParkedStatus.state == ParkedState.WAITING,
            ParkedStatus.change.contains(json.dumps(marker)[1:-1], autoescape=True)),
        "parked_statuses": select(func.count()).select_from(ParkedStatus).where(
            ParkedStatus.state == ParkedState.PARKED, ParkedStatus.raw.contains(marker, autoescape=True)),
    }
    found = {kind: int(session.scalar(query) or 0) for kind, query in counts.items()}
    return {kind: n for kind, n in found.items() if n}


def passwords_under(session: Session, kid: str) -> int:
    """Cases whose 查询密码 is hashed under query key `kid` (lianban.crypto.passwords): it is hashed at staging or a
    reset, and again under the active key only when its applicant's query succeeds, so a retired key would make
    each of their passwords wrong for good."""
    held = Case.password_hash.startswith(f"{SCHEME}${kid}$", autoescape=True)
    return int(session.scalar(select(func.count()).select_from(Case).where(held)) or 0)
