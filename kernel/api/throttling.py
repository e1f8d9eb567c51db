"""Per-user request rates, shared by every server process, counted atomically.

Each request runs one SQL statement on the counter table (`settings.API_THROTTLE_MODEL`,
one row per user):

    INSERT ... VALUES (key, <this window's start>, 1)
    ON CONFLICT (key) DO UPDATE SET count = <count + 1, or 1 in a new window>, ...
    RETURNING count, <seconds left in the window>

PostgreSQL locks the row for the increment, so concurrent requests of one user (in any
process) are counted one after another and exactly `limit` of them get through in a
window; the statement also resets the row when a new window begins, so no old rows pile
up. Windows are fixed (aligned on the database clock: every minute for "1000/min"), so
a client may send up to `limit` at the end of one window and `limit` again at the start
of the next.

Call it outside the request's transaction (the API's dispatch does: authentication,
permissions and throttling come before the view's transaction), so the count is kept
even when the request fails and the row is not locked while the view runs. Its commit
does not wait for the disk (`synchronous_commit` off for that one statement: 2-3 ms
less on every API request on a busy disk); a database crash may forget the last few
counts, which only lets a few more requests through.
"""

from __future__ import annotations

import math

from django.apps import apps
from django.conf import settings
from django.db import connection
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from kernel.network import client_ip

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "1000/min" -> (1000, 60): requests per window, window length in seconds."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1]]


def _table() -> str:
    model = apps.get_model(settings.API_THROTTLE_MODEL)
    return connection.ops.quote_name(model._meta.db_table)


def count_request(key: str, *, limit: int, seconds: int) -> tuple[int, float]:
    """Count one request for `key` in the current window of `seconds`: returns the count
    so far in this window (capped just above `limit`) and the seconds the window has left.
    One statement, atomic across processes."""
    # When this statement is its own transaction (as the API's dispatch calls it), its
    # COMMIT need not wait for the disk: a count lost in a database crash is harmless.
    # Inside a caller's transaction the setting would last until that one commits, and
    # its writes must be durable, so it is left alone there.
    quick = (
        "SELECT 1"
        if connection.in_atomic_block
        else ("SELECT set_config('synchronous_commit', 'off', true)")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            # The table name is the model's, quoted; every value is a parameter.
            f"""
            WITH now AS (SELECT clock_timestamp() AS at),
                 quick AS ({quick})
            INSERT INTO {_table()} AS counter (key, window_start, count)
            SELECT %(key)s,
                   to_timestamp(floor(extract(epoch FROM now.at) / %(seconds)s) * %(seconds)s),
                   1
              FROM now, quick
            ON CONFLICT (key) DO UPDATE SET
                count = CASE WHEN counter.window_start = EXCLUDED.window_start
                             THEN least(counter.count, %(limit)s) + 1
                             ELSE 1 END,
                window_start = EXCLUDED.window_start
            RETURNING count,
                      extract(epoch FROM window_start + make_interval(secs => %(seconds)s)
                                         - clock_timestamp())
            """,  # noqa: S608
            {"key": key, "seconds": seconds, "limit": limit},
        )
        count, left = cursor.fetchone()
    return count, float(left)


class UserThrottle(BaseThrottle):
    """Requests per user (API_THROTTLE_USER, e.g. "1000/min"), so one integrator cannot
    starve the clinic; 429 with Retry-After once the window's allowance is used up.
    The rate is read on each request, so tests can change it."""

    scope = "user"

    def __init__(self) -> None:
        self._wait: float | None = None

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def get_key(self, request) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"ip:{client_ip(request) or 'unknown'}"

    def allow_request(self, request, view) -> bool:
        rate = self.get_rate()
        if rate is None:
            return True
        limit, seconds = parse_rate(rate)
        count, left = count_request(self.get_key(request), limit=limit, seconds=seconds)
        if count <= limit:
            return True
        self._wait = max(left, 1.0)
        return False

    def wait(self) -> float | None:
        return None if self._wait is None else float(math.ceil(self._wait))
