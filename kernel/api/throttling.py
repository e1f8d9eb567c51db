"""Per-user request rates, shared by every server process."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle


class UserThrottle(UserRateThrottle):
    """Requests per user (API_THROTTLE_USER, e.g. "1000/min"), so one integrator cannot
    starve the clinic. The rate is read on each request, so tests can change it."""

    scope = "user"

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)
