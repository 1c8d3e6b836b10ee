"""Why a record cannot be routed (:class:`Reason`): what intake, the validation rules and the quarantine share,
kept apart from the rules so that reading a 前置库 row does not import pandas."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """Why a record cannot be routed: a stable ``code`` machines key on, a ``message`` an operator (and,
    through 补正资料, the applicant) reads. Never carries a personal value."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
