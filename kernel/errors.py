"""The one exception type for business-rule refusals.

Services raise `DomainError` with a stable machine `code` (the API returns it with a 409)
and a `message` written for a receptionist (the pages show it as it is).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule refused the action. Nothing was changed."""

    def __init__(self, code: str, message: str, **context: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message

    @property
    def field(self) -> str | None:
        """The input the message is about, when a service named one."""
        return self.context.get("field")


class NotAllowed(DomainError):
    """The user's role does not allow the action (pages and API answer 403)."""

    def __init__(self, message: str = "You do not have permission to do that.") -> None:
        super().__init__("permission_denied", message)


def require_perm(user: Any, perm: str, message: str | None = None) -> None:
    """Refuse unless `user` holds `perm`. `user=None` is the system (seed, migrations)."""
    if user is None:
        return
    if not user.has_perm(perm):
        raise NotAllowed(message or "Your role does not allow this action.")
