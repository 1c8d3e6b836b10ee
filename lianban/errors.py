"""The error tree every layer speaks.

    LianbanError
     ├── ConfigError      a setting, key or catalog entry is missing or wrong: fix it, do not retry
     ├── RetriableError   timeout, 5xx, 429, connection reset: try again later (``retry_after`` seconds)
     ├── RejectedError    the department refused the message; ``code`` and Chinese ``reason`` say why
     └── FatalError       anything else that must stop the run and reach an operator

Messages never carry personal data or secrets.
"""

from __future__ import annotations


class LianbanError(Exception):
    """Base of every error lianban raises on purpose."""


class ConfigError(LianbanError):
    """Configuration is missing or malformed; retrying will not help."""


class NotConfigured(ConfigError):
    """A setting or connection that is simply absent (an optional one may be), as opposed to present and wrong."""


class RetriableError(LianbanError):
    """A transient failure; the same call may succeed later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedError(LianbanError):
    """The department answered and refused; `code` is its own, `reason` its Chinese text. `of_request`: the code
    names the request's form (its syntax, schema or size), not anything an item says, so a request of one item
    so refused does not show that item at fault."""

    def __init__(self, message: str, code: str = "", reason: str = "", *, of_request: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.of_request = of_request


class FatalError(LianbanError):
    """Unexpected failure that must stop the run."""
