"""联络员告警: tell each liaison about its incidents, once when one opens and once when it clears.

:func:`check` looks at the ledger (:func:`lianban.ledger.incidents.observe`), updates the incidents
(:func:`~lianban.ledger.incidents.sweep`) in one short transaction, then tells, outside any transaction, the
liaison of the party concerned (the hub's duty desk for the hub's own incidents, copied on every other one)
through every channel given (e-mail, SMS); an incident is marked told once at least one channel delivered, so a
channel that fails is tried again at the next check, and an alert is never lost for one channel's sake. An
incident that cleared before anyone was told it opened is marked told without a message. One check at a time
tells (a lease, :mod:`lianban.ledger.leases`): another check begun meanwhile (the DAG's and an operator's) tells
nobody and says so (``busy``), where it told the same liaison twice, or marked an incident's clearing told while
the first check was still sending its opening. The check renews its lease before each message, so one slow
to send (many alerts, each channel waiting out its timeouts) keeps it; one that finds another run took it over
meanwhile (its lease ran out during one send) tells no more and says so (``lost``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from lianban.domain.catalog import load_catalog
from lianban.domain.incidents import KINDS, opened_text, resolved_text, sms_values, subject
from lianban.domain.liaisons import HUB, SMS_GATEWAY, SMS_GATEWAY_NAME, Liaison
from lianban.errors import LianbanError
from lianban.ledger.db import session_factory, write_lock
from lianban.ledger.incidents import RESOLVED, observe, sweep, told
from lianban.ledger.leases import Lease, held
from lianban.ledger.models import Incident

__all__ = ["Alert", "CheckResult", "Notifier", "check", "still_held"]

log = logging.getLogger("lianban.alerts")


@dataclass(frozen=True)
class Alert:
    """One message to one liaison (and a copy to the duty desk)."""

    incident: str  # its number, e.g. INC-000012
    kind: str
    party: str
    resolved: bool
    subject: str
    text: str  # no personal data: counts, times, what to do
    to: Liaison
    copy: Liaison | None
    values: dict[str, str] = field(default_factory=dict)  # the SMS template's placeholders (schemas/sms)
    template: str = ""  # the SMS template; "" → incident_opened / incident_resolved


class Notifier(Protocol):
    """A channel (e-mail, SMS): delivers one alert or raises."""

    @property
    def name(self) -> str: ...

    def send(self, alert: Alert) -> None: ...


@dataclass
class CheckResult:
    observed: int = 0
    opened: int = 0
    resolved: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # channel → messages delivered
    failed: dict[str, int] = field(default_factory=dict)  # channel → messages that did not go
    untold: int = 0  # messages that went out on no channel: kept, tried again at the next run
    reasons: list[str] = field(default_factory=list)  # why channels did not send (ours: Chinese, no personal data)
    busy: bool = False  # another run was telling: this one told nobody (the next run tells what is left)
    lost: bool = False  # another run took the telling over midway (this run's lease ran out): this one stopped

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _party_name(party: str) -> str:
    department = load_catalog().departments.get(party)
    return department.name if department else SMS_GATEWAY_NAME if party == SMS_GATEWAY else "联办枢纽"


def alert_for(incident: Incident, liaisons: dict[str, Liaison]) -> Alert:
    kind, number, name = KINDS[incident.kind], f"INC-{incident.id:06d}", _party_name(incident.party)
    resolved = incident.state == RESOLVED
    text = (resolved_text(kind, name, number, incident.peak, incident.opened_at, incident.resolved_at)
            if resolved and incident.resolved_at else opened_text(kind, name, number, incident.count,
                                                                  incident.opened_at))
    to = liaisons.get(incident.party, liaisons[HUB])
    values = sms_values(kind, name, number, incident.peak if resolved else incident.count, incident.opened_at,
                        incident.resolved_at if resolved else None)
    return Alert(number, incident.kind, incident.party, resolved, subject(kind, name, number, resolved), text, to,
                 liaisons[HUB] if to.party != HUB else None, values)


def deliver_alert(alert: Alert, channels: Sequence[Notifier], result: CheckResult) -> bool:
    delivered = False
    for channel in channels:
        try:
            channel.send(alert)
        except Exception as exc:  # a channel's failure must not cost the alert: try the others, and again later
            why = str(exc) if isinstance(exc, LianbanError) else type(exc).__name__  # others may quote an address
            log.error("告警 ALERT: %s 发送 %s 失败（%s），下次检查时重发", channel.name, alert.incident, why)
            if isinstance(exc, LianbanError) and why not in result.reasons:
                result.reasons.append(why)
            result.failed[channel.name] = result.failed.get(channel.name, 0) + 1
            continue
        result.sent[channel.name] = result.sent.get(channel.name, 0) + 1
        delivered = True
    return delivered


#: how long a run may hold the telling to itself: beyond it, a run that died is taken over
LEASE_SECONDS = 15 * 60


def alone(ledger_url: str, lease: str,
          tell: Callable[[sessionmaker[Session], CheckResult, Lease], None]) -> CheckResult:
    """`tell` run while this run holds `lease` (:mod:`lianban.ledger.leases`), its counts; ``busy`` and nothing
    told when another run holds it. `tell` asks :func:`still_held` before each message."""
    sessions, result = session_factory(ledger_url), CheckResult()
    with held(sessions, lease, LEASE_SECONDS) as mine:
        if mine is not None:
            tell(sessions, result, mine)
        result.busy = mine is None
    return result


def still_held(lease: Lease, result: CheckResult) -> bool:
    """Whether this run still holds `lease`, renewed for another :data:`LEASE_SECONDS`; when not, it says so and
    the run tells no more (the run that took the lease over tells what is left)."""
    if lease.renew():
        return True
    result.lost = True
    log.error("告警 ALERT: %s 的租约已被另一次运行接管，本次停止发送，余下的由该运行发送 (lease lost, stopped)",
              lease.name)
    return False


def check(ledger_url: str, liaisons: dict[str, Liaison], channels: Sequence[Notifier]) -> CheckResult:
    """Observe, sweep, tell (module docstring); counts only."""
    return alone(ledger_url, "alerts_check", partial(_check, liaisons=liaisons, channels=channels))


def _check(sessions: sessionmaker[Session], result: CheckResult, lease: Lease, *, liaisons: dict[str, Liaison],
           channels: Sequence[Notifier]) -> None:
    with sessions.begin() as session:
        seen = observe(session)
        write_lock(session)  # one check at a time sweeps (SQLite): two at once would open an incident twice
        due = sweep(session, seen)
        alerts = [(i.id, None if i.state == RESOLVED and i.notified_at is None else alert_for(i, liaisons))
                  for i in due]
    result.observed = len(seen)
    for incident_id, alert in alerts:
        if not still_held(lease, result):
            return
        if alert is not None and not deliver_alert(alert, channels, result):
            result.untold += 1
            continue
        result.opened += bool(alert and not alert.resolved)
        result.resolved += bool(alert and alert.resolved)
        with sessions.begin() as session:
            told(session, incident_id)
