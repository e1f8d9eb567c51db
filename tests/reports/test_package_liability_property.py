"""Property test (issue 15): whatever staff do with packages and however time passes, the
package liability report (and the lines of its drill-down) agrees, figure by figure, with a plain per-package recomputation
from what the packages held after each action; periods chain; the identity holds."""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from calendar_app.services import appointment_cancel, appointment_link, appointment_unlink
from catalog.models import PeriodUnit
from kernel.errors import DomainError
from packages.services import (
    client_package_adjust,
    client_package_cancel,
    client_package_extend_expiry,
)
from reports.selectors import package_liability
from reports.selectors.liability import package_liability_exact, package_liability_movements
from tests.factories import PackageFactory, TaxRateFactory
from tests.reports.test_package_steps import rebuilt as rebuilt_steps
from tests.reports.test_package_steps import steps as kept_steps

pytestmark = pytest.mark.django_db

BEGIN = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # noon in Sydney
FIELDS = ("opening", "sold", "redeemed", "expired", "canceled", "adjusted", "closing")

SELL = st.tuples(st.just("sell"), st.integers(0, 1), st.integers(0, 0))
LINK = st.tuples(st.just("link"), st.integers(0, 5), st.integers(0, 8))
UNLINK = st.tuples(st.just("unlink"), st.integers(0, 20), st.integers(0, 0))
CANCEL_APPOINTMENT = st.tuples(st.just("cancel_appointment"), st.integers(0, 20), st.integers(0, 0))
ADJUST = st.tuples(st.just("adjust"), st.integers(0, 5), st.sampled_from([-2, -1, 1, 2]))
EXTEND = st.tuples(st.just("extend"), st.integers(0, 5), st.integers(-4, 12))
WAIT = st.tuples(st.just("wait"), st.integers(0, 4), st.integers(0, 23))
# Weighted by repetition: mostly links, unlinks and time passing; a package canceled
# now and then (a quarter of the draws: canceling ends what can happen to it).
STEP = st.one_of(
    SELL,
    LINK,
    LINK,
    LINK,
    UNLINK,
    UNLINK,
    CANCEL_APPOINTMENT,
    ADJUST,
    EXTEND,
    EXTEND,
    WAIT,
    WAIT,
    WAIT,
    st.tuples(st.just("cancel_package"), st.integers(0, 5), st.integers(0, 3)),
)
PERIOD = st.tuples(st.integers(-2, 24), st.integers(0, 10))


@dataclass(frozen=True)
class State:
    """What one package is, just after an action (from its row's cached totals)."""

    at: dt.datetime
    credits: int
    consumed: int
    canceled: bool
    expires_on: dt.date | None


def held(price: Decimal, state: State | None, day: dt.date) -> tuple[int, Decimal]:
    if (
        state is None
        or state.credits == 0
        or state.canceled
        or (state.expires_on is not None and day > state.expires_on)
    ):
        return 0, Decimal("0.00")
    used = (price * state.consumed / state.credits).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return state.credits - state.consumed, price - used


def state_at(states: list[State], instant: dt.datetime) -> State | None:
    before = [s for s in states if s.at < instant]
    return before[-1] if before else None


def midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def recompute(timelines, moves, start: dt.date, end: dt.date) -> dict[str, tuple[int, Decimal]]:
    """Per package: balances from its state on the boundary days; each action's change
    in what it held (judged on the action's day) under the action's heading; expired by
    time = what it held on a day before its expiry date passed, day by day."""
    out = {f: [0, Decimal("0.00")] for f in FIELDS}

    def add(field, amount, sign=1):
        out[field][0] += sign * amount[0]
        out[field][1] += sign * amount[1]

    start_t, end_t = midnight(start), midnight(end + dt.timedelta(days=1))
    for pk, (price, states) in timelines.items():
        add("opening", held(price, state_at(states, start_t), start - dt.timedelta(days=1)))
        add("closing", held(price, state_at(states, end_t), end))
        day = start
        while day <= end:
            state = state_at(states, midnight(day))
            before, after = held(price, state, day - dt.timedelta(days=1)), held(price, state, day)
            add("expired", (before[0] - after[0], before[1] - after[1]))
            day += dt.timedelta(days=1)
        for at, field, prior, state in moves[pk]:
            if not (start_t <= at < end_t):
                continue
            day = timezone.localdate(at)
            b, a = held(price, prior, day), held(price, state, day)
            sign = 1 if field in ("sold", "adjusted") else -1
            add(field, (a[0] - b[0], a[1] - b[1]), sign)
    return {f: (n, v) for f, (n, v) in out.items()}


def report(start, end):
    r = package_liability(start, end)
    return {f: (getattr(r, f).credits, getattr(r, f).value) for f in FIELDS}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(STEP, min_size=8, max_size=40), periods=st.lists(PERIOD, min_size=3, max_size=6)
)
def test_liability_agrees_with_a_per_package_recomputation(
    practice, reception, admin_user, steps, periods
):
    sid = transaction.savepoint()
    try:
        catalog = [
            PackageFactory(
                credits=3,
                price=Decimal("110.00"),
                tax_rate=TaxRateFactory(rate=Decimal("10.00")),
                expires_after_value=6,
                expires_after_unit=PeriodUnit.DAYS,
                services=[practice.follow_up],
            ),
            PackageFactory(credits=7, price=Decimal("100.00"), services=[practice.follow_up]),
        ]
        now = BEGIN
        sold, appointments = [], []
        timelines: dict[int, tuple[Decimal, list[State]]] = {}
        moves: dict[int, list] = {}
        headings = {
            "sell": "sold",
            "link": "redeemed",
            "unlink": "redeemed",
            "cancel_appointment": "redeemed",
            "cancel_package": "canceled",
            "adjust": "adjusted",
            "extend": "expired",
        }
        begin = [("sell", 0, 0), ("sell", 1, 0)]
        for n, (action, index, value) in enumerate(begin + steps):
            now += dt.timedelta(seconds=7)
            if action == "wait":
                now += dt.timedelta(days=index, hours=value)
                continue
            touched = None
            with time_machine.travel(now, tick=False):
                try:
                    if action == "sell":
                        package = catalog[index]
                        touched = practice.sell(package, by=admin_user)
                        sold.append(touched)
                        # net of tax: 110.00 incl. 10% is 100.00; the other has no tax
                        timelines[touched.pk] = (Decimal("100.00"), [])
                        moves[touched.pk] = []
                    elif action == "link" and sold:
                        touched = sold[index % len(sold)]
                        day = timezone.localdate() + dt.timedelta(days=1 + value % 3)
                        appointment = practice.book(
                            by=reception,
                            starts_at=timezone.make_aware(
                                dt.datetime.combine(day, dt.time(7 + (n % 12), 5 * (n % 12)))
                            ),
                        )
                        appointments.append(appointment)
                        appointment_link(
                            appointment=appointment, client_package=touched, by=reception
                        )
                    elif action in ("unlink", "cancel_appointment") and appointments:
                        appointment = appointments[index % len(appointments)]
                        appointment.refresh_from_db()
                        touched = appointment.client_package
                        if action == "unlink":
                            appointment_unlink(
                                appointment=appointment, by=admin_user, reason="property test"
                            )
                        else:
                            appointment_cancel(
                                appointment=appointment, reason=practice.reason, by=admin_user
                            )
                    elif action == "cancel_package" and sold and value == 0:
                        touched = sold[index % len(sold)]
                        client_package_cancel(
                            client_package=touched, reason="property test", by=admin_user
                        )
                    elif action == "adjust" and sold:
                        touched = sold[index % len(sold)]
                        client_package_adjust(
                            client_package=touched,
                            quantity=value,
                            reason="property test",
                            by=admin_user,
                        )
                    elif action == "extend" and sold:
                        touched = sold[index % len(sold)]
                        client_package_extend_expiry(
                            client_package=touched,
                            expires_on=timezone.localdate() + dt.timedelta(days=value),
                            reason="property test",
                            by=admin_user,
                        )
                except DomainError as exc:
                    event(f"refused {action} {exc.code}")
                    touched = None
            if touched is None:
                continue
            touched.refresh_from_db()
            states = timelines[touched.pk][1]
            prior = states[-1] if states else None
            state = State(
                now,
                touched.credits,
                touched.consumed,
                touched.canceled_at is not None,
                touched.expires_on,
            )
            if prior is not None and (
                state.credits,
                state.consumed,
                state.canceled,
                state.expires_on,
            ) == (prior.credits, prior.consumed, prior.canceled, prior.expires_on):
                continue  # nothing changed (e.g. canceling an unlinked appointment)
            states.append(state)
            event(f"done {action}")
            moves[touched.pk].append((now, headings[action], prior, state))

        first = BEGIN.astimezone(timezone.get_default_timezone()).date()
        for offset, length in periods:
            start = first + dt.timedelta(days=offset)
            end = start + dt.timedelta(days=length)
            got = report(start, end)
            assert got == recompute(timelines, moves, start, end), (start, end)
            # The day summary the report reads agrees with the steps themselves.
            assert package_liability(start, end) == package_liability_exact(start, end)
            o, s, r, e, c, a, z = (got[f] for f in FIELDS)
            for i in (0, 1):
                assert o[i] + s[i] - r[i] - e[i] - c[i] + a[i] == z[i]
            following = report(end + dt.timedelta(days=1), end + dt.timedelta(days=3))
            assert following["opening"] == z
            # The drill-down: the lines behind each figure add up to it exactly.
            for field in FIELDS:
                lines = package_liability_movements(start, end, field, limit=None)
                assert lines.count == len(lines.rows)
                total = (sum(m.credits for m in lines.rows), sum(m.value for m in lines.rows))
                assert total == got[field], (field, start, end)
        # The steps the triggers kept (appended one by one, mostly) are a rebuild's.
        assert kept_steps() == rebuilt_steps()
    finally:
        transaction.savepoint_rollback(sid)
