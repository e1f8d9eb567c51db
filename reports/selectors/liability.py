"""Report 1, package liability: the roll-forward of prepaid package value."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from kernel.money import ZERO, to_money
from kernel.prepared import Prepared
from packages.models import ClientPackage, CreditLedgerEntry, LedgerKind
from packages.selectors import credits_value, package_net_price
from practice.models import PracticeSettings
from reports.models import LiabilityDay, PackageStep
from reports.selectors.expiring import _held_value


@dataclass(frozen=True)
class Amount:
    """Credits and their value (net of tax, 2 places)."""

    credits: int
    value: Decimal


@dataclass(frozen=True)
class Liability:
    currency: str
    start: dt.date
    end: dt.date
    opening: Amount
    sold: Amount
    redeemed: Amount
    expired: Amount
    canceled: Amount
    adjusted: Amount
    closing: Amount


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()), timezone.get_default_timezone())


# One statement over the package steps (`reports.models.PackageStep`: one row per event
# of a package, with its state just before and after and what it moved, kept by
# triggers): the movements of the period, read from an index alone, and the steps in
# effect at its start and at its end of the packages holding something then
# (t < instant <= nt, through a partial GiST index). Its cost follows the period's events
# and the packages live at its ends, not the whole history. A package "holds"
# P - round(P*k/C, 2) and C - k credits while it is live (not canceled, C > 0, and the
# day is not after the expiry date in effect), else nothing; an event moved
# held(after) - held(before), judged on its local day. The steps store that for the zone
# `reports_step_zone()` names; should settings.TIME_ZONE differ, `_MOVED_N` and
# `_MOVED_V` work it out again from the stored states (constant-folded away otherwise).
_SQL = """
WITH {filter_cte}
mv AS (
    SELECT st.client_package_id AS cp, st.t, st.ord, st.src AS id, st.kind,
           CASE WHEN reports_step_zone() = %(tz)s THEN st.dn ELSE {moved_n} END AS dn,
           CASE WHEN reports_step_zone() = %(tz)s
                THEN CASE WHEN %(incl)s THEN st.dv_in ELSE st.dv_ex END
                ELSE {moved_v} END AS dv
    FROM {st} st
    WHERE st.t >= %(start_t)s AND st.t < %(end_t)s {keep}
),
b0 AS (
    -- held at the end of the day before the period
    SELECT st.client_package_id AS cp, st.c, st.k,
           CASE WHEN %(incl)s THEN st.p_in ELSE st.p_ex END AS p
    FROM {st} st
    WHERE tstzrange(st.t, st.nt, '(]') @> %(start_t)s::timestamptz
      AND st.c > st.k AND NOT st.x AND (st.exp IS NULL OR st.exp >= %(before)s) {keep}
),
b1 AS (
    -- held at the end of the period's last day
    SELECT st.client_package_id AS cp, st.c, st.k,
           CASE WHEN %(incl)s THEN st.p_in ELSE st.p_ex END AS p
    FROM {st} st
    WHERE tstzrange(st.t, st.nt, '(]') @> %(end_t)s::timestamptz
      AND st.c > st.k AND NOT st.x AND (st.exp IS NULL OR st.exp >= %(end)s) {keep}
)
"""

# What an event moved, from the step's states, judged on its local day in settings'
# zone: only when the steps were judged in another (see `_SQL`).
_LIVE = "({c} > 0 AND NOT {x} AND ({exp} IS NULL OR (st.t AT TIME ZONE %(tz)s)::date <= {exp}))"
_LIVE_AFTER = _LIVE.format(c="st.c", x="st.x", exp="st.exp")
_LIVE_BEFORE = _LIVE.format(c="st.c0", x="st.x0", exp="st.exp0")
_P = "(CASE WHEN %(incl)s THEN st.p_in ELSE st.p_ex END)"
_MOVED_N = (
    f"(CASE WHEN {_LIVE_AFTER} THEN st.c - st.k ELSE 0 END"
    f" - CASE WHEN {_LIVE_BEFORE} THEN st.c0 - st.k0 ELSE 0 END)"
)
_MOVED_V = (
    f"(CASE WHEN {_LIVE_AFTER} THEN {_P} - (2 * {_P} * st.k + st.c) / (2 * st.c) ELSE 0 END"
    f" - CASE WHEN {_LIVE_BEFORE} THEN {_P} - (2 * {_P} * st.k0 + st.c0) / (2 * st.c0)"
    " ELSE 0 END)"
)

# The events and the balances as one set of lines, for the drill-down.
_M = """,
m AS (
    SELECT cp, t, ord, id, kind, dn, dv, NULL::integer AS c, NULL::integer AS k,
           NULL::bigint AS p, FALSE AS is_o, FALSE AS is_c, TRUE AS in_p
    FROM mv
    UNION ALL
    SELECT cp, NULL, NULL, NULL, NULL, 0, 0, c, k, p, TRUE, FALSE, FALSE FROM b0
    UNION ALL
    SELECT cp, NULL, NULL, NULL, NULL, 0, 0, c, k, p, FALSE, TRUE, FALSE FROM b1
)
"""

# The totals: the period's movements grouped by kind first (a parallel aggregate over
# the index), then the two balances.
_TOTALS = """,
sums AS (
    SELECT kind, SUM(dn) AS n, SUM(dv) AS v FROM mv GROUP BY kind
    UNION ALL
    SELECT 'opening', SUM(c - k), SUM(p - (2 * p * k + c) / (2 * c)) FROM b0
    UNION ALL
    SELECT 'closing', SUM(c - k), SUM(p - (2 * p * k + c) / (2 * c)) FROM b1
)
SELECT
    SUM(n) FILTER (WHERE kind = 'opening'),
    SUM(v) FILTER (WHERE kind = 'opening'),
    SUM(n) FILTER (WHERE kind = 'closing'),
    SUM(v) FILTER (WHERE kind = 'closing'),
    SUM(n) FILTER (WHERE kind = '{grant}'),
    SUM(v) FILTER (WHERE kind = '{grant}'),
    -SUM(n) FILTER (WHERE kind IN ('{consume}', '{release}')),
    -SUM(v) FILTER (WHERE kind IN ('{consume}', '{release}')),
    -SUM(n) FILTER (WHERE kind = 'cancel'),
    -SUM(v) FILTER (WHERE kind = 'cancel'),
    SUM(n) FILTER (WHERE kind = '{adjust}'),
    SUM(v) FILTER (WHERE kind = '{adjust}')
FROM sums
"""

_FILTER = """ AND EXISTS (
        SELECT 1 FROM {line} il JOIN {inv} i ON i.id = il.invoice_id
        WHERE il.client_package_id = {alias}.id AND i.status <> '{void}'
          AND i.{column} = %({param})s
    )"""


def package_invoice_filter(alias: str, location, practitioner, params: dict[str, Any]) -> str:
    """SQL conditions keeping whole client packages (table alias `alias`) by their
    current, non-void invoice's location and practitioner, the filters of the package
    reports; their values are added to `params`."""
    where = ""
    for column, value in (("location_id", location), ("practitioner_id", practitioner)):
        if value is None:
            continue
        where += _FILTER.format(
            line=InvoiceLine._meta.db_table,
            inv=Invoice._meta.db_table,
            void=InvoiceStatus.VOID,
            alias=alias,
            column=column,
            param=column,
        )
        params[column] = getattr(value, "pk", value)
    return where


# The packages kept by the location and practitioner filters, when given.
_FILTER_CTE = "f AS (SELECT cp.id FROM {cp} cp WHERE TRUE {where}),"


def _run(
    cursor, select: str, practice, start, end, location, practitioner, extra: dict[str, Any]
) -> None:
    """Execute the steps statement (`_SQL`) followed by `select` over its last CTE `m`."""
    params: dict[str, Any] = {
        "incl": practice.prices_include_tax,
        "tz": settings.TIME_ZONE,
        "start_t": _midnight(start),
        "end_t": _midnight(end + dt.timedelta(days=1)),
        "before": start - dt.timedelta(days=1),
        "end": end,
        **extra,
    }
    where = package_invoice_filter("cp", location, practitioner, params)
    filter_cte, keep = "", ""
    if where:
        filter_cte = _FILTER_CTE.format(cp=ClientPackage._meta.db_table, where=where)
        keep = "AND st.client_package_id IN (SELECT id FROM f)"
    sql = (_SQL + select).format(
        filter_cte=filter_cte,
        keep=keep,
        moved_n=_MOVED_N,
        moved_v=_MOVED_V,
        st=PackageStep._meta.db_table,
        grant=LedgerKind.GRANT,
        adjust=LedgerKind.ADJUST,
        consume=LedgerKind.CONSUME,
        release=LedgerKind.RELEASE,
    )
    # For this transaction only: sums over a year of events fit in memory, and no JIT
    # compilation (it cost more than it saved at a million rows).
    cursor.execute("SELECT set_config('work_mem', '128MB', true), set_config('jit', 'off', true)")
    cursor.execute(sql, params)


def package_liability(
    start: dt.date, end: dt.date, *, location=None, practitioner=None
) -> Liability:
    """The roll-forward of prepaid package value from `start` to `end` (inclusive days in
    the practice's time zone): opening + sold - redeemed - expired - canceled + adjusted
    = closing, in credits and in money. Two queries (the practice's settings, then the
    day summary `reports.LiabilityDay`: see `_from_days`), whatever the data size; with
    a filter, those of `package_liability_exact`.

    Value, net of tax: P is the client package's amount (`price`) when prices exclude
    tax, or when it has no tax rate; when the practice's prices include tax (the current
    setting, `PracticeSettings.prices_include_tax`) P = price - round(price × rate /
    (100 + rate), 2), the rule of `invoicing.services.compute_line_amounts`. With C its
    credits (as sold ± adjustments, at that moment) and k consumed, a package holds
    P - round_half_up(P × k / C, 2) and C - k credits while it is live: sold (its grant
    row is recorded), not canceled, C > 0, and the day is not after the expiry date in
    effect (the latest `ExpiryChange` at that moment, else the date as sold). Otherwise
    it holds nothing. Every movement is worth the change it causes in what the package
    holds, judged on the movement's day: a grant is sold (on the day it was recorded,
    whatever the start date), consume and release rows are redeemed (net), an adjust row
    is adjusted, the cancellation is canceled. Expired is the rest: value a package held
    when its expiry date passed, less value an extension brought back (negative), so the
    identity holds exactly. Movements on a package that holds nothing (a release after
    expiry or cancellation) move nothing until an extension brings the package back.

    Balances: opening is what packages hold at the end of the day before `start`,
    closing what they hold at the end of `end`; so the closing of a period is the
    opening of the next, and expiry passing at midnight counts in the day that follows
    the expiry date.

    Filters select whole packages, so the identity holds for each filter: `location`
    (or `practitioner`) keeps the packages whose current, non-void invoice has that
    location (practitioner). A package not invoiced is in the unfiltered report only.
    """
    if end < start:
        raise ValueError("end is before start")
    practice = PracticeSettings.load()
    if location is None and practitioner is None:
        sums = _from_days(practice, start, end)
        if sums is not None:
            return _liability(practice, start, end, sums)
    return _exact(practice, start, end, location, practitioner)


# What all packages held at the end of the day before the period and at the end of its
# last day, and the period's movements by kind, from the day summary
# (`reports.LiabilityDay`, kept by triggers on the steps): what packages hold at the end
# of a day is the sum of every row up to it, expiries included (kind "expire", on the
# day after the expiry date). Its rows follow the days of history, not the events.
_DAYS = f"""
SELECT reports_step_zone() = %(tz)s,
       SUM(n) FILTER (WHERE day < %(start)s), SUM(v) FILTER (WHERE day < %(start)s),
       SUM(n), SUM(v),
       SUM(n) FILTER (WHERE day >= %(start)s AND kind = %(grant)s),
       SUM(v) FILTER (WHERE day >= %(start)s AND kind = %(grant)s),
       -SUM(n) FILTER (WHERE day >= %(start)s AND kind IN (%(consume)s, %(release)s)),
       -SUM(v) FILTER (WHERE day >= %(start)s AND kind IN (%(consume)s, %(release)s)),
       -SUM(n) FILTER (WHERE day >= %(start)s AND kind = 'cancel'),
       -SUM(v) FILTER (WHERE day >= %(start)s AND kind = 'cancel'),
       SUM(n) FILTER (WHERE day >= %(start)s AND kind = %(adjust)s),
       SUM(v) FILTER (WHERE day >= %(start)s AND kind = %(adjust)s)
FROM (
    SELECT day, kind, n, CASE WHEN %(incl)s THEN v_in ELSE v_ex END AS v
    FROM {LiabilityDay._meta.db_table} WHERE day <= %(end)s
) d
"""  # noqa: S608 - the model's table
_KINDS = {
    "grant": str(LedgerKind.GRANT),
    "consume": str(LedgerKind.CONSUME),
    "release": str(LedgerKind.RELEASE),
    "adjust": str(LedgerKind.ADJUST),
}


def _from_days(practice, start: dt.date, end: dt.date) -> tuple | None:
    """The figures' sums (as `_TOTALS` gives them) from the day summary: one query. None
    when the steps were judged in another zone than settings.TIME_ZONE (the summary's
    days are theirs): the caller then takes the exact path."""
    params: dict[str, Any] = {"tz": settings.TIME_ZONE, "start": start, "end": end, **_KINDS}
    params["incl"] = practice.prices_include_tax
    with connection.cursor() as cursor:
        cursor.execute(_DAYS, params)
        row = cursor.fetchone()
    return tuple(row[1:]) if row[0] else None


def package_liability_exact(
    start: dt.date, end: dt.date, *, location=None, practitioner=None
) -> Liability:
    """`package_liability` computed from the package steps themselves (`_SQL`): the
    period's events and the steps in effect at its two ends, with any filter. The
    reference the day summary is tested against, and the path for filters. Three
    queries (the practice's settings, the statement's memory and JIT settings, then one
    statement), whatever the data size."""
    if end < start:
        raise ValueError("end is before start")
    return _exact(PracticeSettings.load(), start, end, location, practitioner)


def _exact(practice, start: dt.date, end: dt.date, location, practitioner) -> Liability:
    with transaction.atomic(), connection.cursor() as cursor:
        _run(cursor, _TOTALS, practice, start, end, location, practitioner, {})
        row = cursor.fetchone()
    return _liability(practice, start, end, row)


def _liability(practice, start: dt.date, end: dt.date, row) -> Liability:
    """The report from the sums: opening and closing, then sold, redeemed, canceled and
    adjusted (credits and cents each); expired is what makes the identity hold."""
    o_n, o_v, c_n, c_v, s_n, s_v, r_n, r_v, x_n, x_v, a_n, a_v = row

    def amount(n, cents) -> Amount:
        return Amount(int(n or 0), to_money(Decimal(cents or 0) / 100))

    opening, closing = amount(o_n, o_v), amount(c_n, c_v)
    sold, redeemed = amount(s_n, s_v), amount(r_n, r_v)
    canceled, adjusted = amount(x_n, x_v), amount(a_n, a_v)
    expired = Amount(
        opening.credits
        + sold.credits
        - redeemed.credits
        - canceled.credits
        + adjusted.credits
        - closing.credits,
        opening.value
        + sold.value
        - redeemed.value
        - canceled.value
        + adjusted.value
        - closing.value,
    )
    return Liability(
        currency=practice.currency,
        start=start,
        end=end,
        opening=opening,
        sold=sold,
        redeemed=redeemed,
        expired=expired,
        canceled=canceled,
        adjusted=adjusted,
        closing=closing,
    )


# ----------------------------------------------------------------- drill-down (report 1)

FIGURES: dict[str, str] = {
    "opening": "Opening balance",
    "sold": "Sold",
    "redeemed": "Redeemed",
    "expired": "Expired",
    "canceled": "Canceled",
    "adjusted": "Adjusted",
    "closing": "Closing balance",
}

# Figures made of events: the event kinds behind each, and the sign that turns an event's
# change in what its package holds into its part of the figure.
_EVENT_FIGURES: dict[str, tuple[tuple[str, ...], int]] = {
    "sold": ((LedgerKind.GRANT,), 1),
    "redeemed": ((LedgerKind.CONSUME, LedgerKind.RELEASE), -1),
    "canceled": (("cancel",), -1),
    "adjusted": ((LedgerKind.ADJUST,), 1),
}

_EVENTS = """
SELECT cp, t, %(sign)s * dn, %(sign)s * dv, kind, id, COUNT(*) OVER ()
FROM m
WHERE in_p AND kind = ANY(%(kinds)s) AND (dn <> 0 OR dv <> 0)
ORDER BY t, cp, ord, id
LIMIT %(limit)s OFFSET %(offset)s
"""

# Opening and closing: each package holding something then, from the steps in effect.
_BALANCE = """
SELECT cp, NULL::timestamptz, c - k, (p - (2 * p * k + c) / (2 * c)), NULL, NULL, COUNT(*) OVER ()
FROM b0
ORDER BY cp
LIMIT %(limit)s OFFSET %(offset)s
"""

# Expired, per package: what it held at the opening, plus what its events other than
# expiry changes moved in the period, less what it held at the closing. Only packages
# whose expiry date passed in the period while they held something, or whose expiry was
# changed in it, can have any: those are found first (`cand`, through the GiST index),
# so the work follows them, not every event of the period.
_EXPIRED = """,
cand AS (
    SELECT st.client_package_id AS cp FROM {st} st
    WHERE tstzrange(st.t, st.nt, '(]') && tstzrange(%(start_t)s, %(end_t)s, '[]')
      AND st.c > st.k AND NOT st.x AND st.exp >= %(before)s AND st.exp < %(end)s {keep}
    UNION
    SELECT st.client_package_id FROM {st} st
    WHERE st.t >= %(start_t)s AND st.t < %(end_t)s AND st.kind = 'extend' {keep}
),
fig AS (
    -- one grouping of all three parts (a hash on the package, whatever the estimates)
    SELECT cp, SUM(n) AS n, SUM(v) AS v
    FROM (
        SELECT cp, c - k AS n, (p - (2 * p * k + c) / (2 * c)) AS v FROM b0
        UNION ALL
        SELECT cp, dn, dv FROM mv WHERE kind <> 'extend'
        UNION ALL
        SELECT cp, k - c, (2 * p * k + c) / (2 * c) - p FROM b1
    ) parts
    WHERE cp IN (SELECT cp FROM cand)
    GROUP BY cp
)
SELECT cp, NULL::timestamptz, n, v, NULL, NULL, COUNT(*) OVER ()
FROM fig WHERE n <> 0 OR v <> 0
ORDER BY cp
LIMIT %(limit)s OFFSET %(offset)s
"""


@dataclass(frozen=True)
class Movement:
    """One line behind a figure: an event (a sale, a credit used or given back, an
    adjustment, a cancellation), or for opening, closing and expired, a package."""

    client_package_id: int
    client_id: int
    client_name: str
    package_name: str
    at: dt.datetime | None  # when the event was recorded; None for a package line
    expires_on: dt.date | None  # the package's expiry date (package lines)
    credits: int
    value: Decimal
    appointment_id: int | None
    by: str


@dataclass(frozen=True)
class Movements:
    figure: str
    currency: str
    rows: list[Movement]
    count: int  # all the lines behind the figure, not only this page


def _person(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def package_liability_movements(
    start: dt.date,
    end: dt.date,
    figure: str,
    *,
    location=None,
    practitioner=None,
    offset: int = 0,
    limit: int | None = 50,
) -> Movements:
    """The lines behind one figure of `package_liability` (same period and filters), so
    that they add up to it exactly: for sold, redeemed (net of credits given back),
    canceled and adjusted, each event that moved value or credits, in the order recorded,
    with its sign as in the report (a credit given back is a negative redeemed line); for
    opening and closing, each package holding something then; for expired, each package
    whose value passed its expiry date in the period (negative when an extension brought
    it back). `offset` and `limit` page the lines (`limit=None`: all of them); `count` is
    their number. Four queries for a page (settings, the statement, then the packages and
    the ledger rows on the page), whatever the data size."""
    if figure not in FIGURES:
        raise ValueError(f"figure must be one of {tuple(FIGURES)}")
    if end < start:
        raise ValueError("end is before start")
    practice = PracticeSettings.load()
    extra: dict[str, Any] = {"offset": offset, "limit": limit, "figure": figure}
    if figure in _EVENT_FIGURES:
        kinds, sign = _EVENT_FIGURES[figure]
        select = _M + _EVENTS
        extra.update(kinds=[str(kind) for kind in kinds], sign=sign)
    else:
        # (b0: the steps in effect at the opening, b1: at the closing; see `_SQL`)
        select = {"opening": _BALANCE, "closing": _BALANCE.replace("FROM b0", "FROM b1")}.get(
            figure, _EXPIRED
        )
    with transaction.atomic(), connection.cursor() as cursor:
        _run(cursor, select, practice, start, end, location, practitioner, extra)
        raw = cursor.fetchall()
    count = raw[0][6] if raw else 0
    packages = ClientPackage.objects.select_related("client", "canceled_by").in_bulk(
        {row[0] for row in raw}
    )
    ledger_ids = [row[5] for row in raw if row[4] not in (None, "cancel")]
    ledger = (
        CreditLedgerEntry.objects.select_related("created_by").in_bulk(ledger_ids)
        if ledger_ids
        else {}
    )
    rows = []
    for cp_id, at, n, cents, kind, event_id, _ in raw:
        package = packages[cp_id]
        entry = ledger.get(event_id) if kind not in (None, "cancel") else None
        if kind == "cancel":
            by = _person(package.canceled_by)
        else:
            by = _person(entry.created_by) if entry else ""
        rows.append(
            Movement(
                client_package_id=cp_id,
                client_id=package.client_id,
                client_name=f"{package.client.first_name} {package.client.last_name}".strip(),
                package_name=package.name,
                at=at,
                expires_on=package.expires_on if kind is None else None,
                credits=int(n),
                value=to_money(Decimal(cents) / 100),
                appointment_id=entry.appointment_id if entry else None,
                by=by,
            )
        )
    return Movements(figure=figure, currency=practice.currency, rows=rows, count=count)


# ------------------------------------------------------------ one client (report 1)


def _client_liability(include_tax: bool) -> Prepared:
    return Prepared(
        lambda client, on: (
            ClientPackage.objects.filter(
                client_id=client, canceled_at__isnull=True, credits__gt=F("consumed")
            )
            .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=on))
            # One group (the client's), or no row when nothing is held.
            .values("client_id")
            .annotate(n=Sum(F("credits") - F("consumed")), v=Sum(_held_value(include_tax)))
            .values_list("n", "v")
        ),
        client=int,
        on=dt.date,
    ).planned()


# The sum's SQL built once per process for each way prices are entered.
_CLIENT_LIABILITY = {include: _client_liability(include) for include in (False, True)}


def client_liability_remaining(
    client, on: dt.date | None = None, *, prices_include_tax: bool | None = None
) -> Amount:
    """What the client's packages hold on `on` (default: the practice's today): their
    usable credits and the value of them net of tax, the rule of `package_liability`
    (its closing balance on `on`, restricted to this client) applied to the packages as
    they are now. Two queries (the practice's settings, unless `prices_include_tax` is
    given; one sum)."""
    on = on or timezone.localdate()
    include_tax = prices_include_tax
    if include_tax is None:
        include_tax = PracticeSettings.load().prices_include_tax
    rows = _CLIENT_LIABILITY[bool(include_tax)].rows(client=client.pk, on=on)
    n, v = rows[0] if rows else (0, 0)
    return Amount(int(n or 0), to_money(v or 0))


def client_packages_with_remaining_value(
    qs: QuerySet[ClientPackage], *, prices_include_tax: bool | None = None
) -> QuerySet[ClientPackage]:
    """Client packages annotated with `remaining_value`: what the unused credits are
    worth, P − V(k) net of tax (DOMAIN.md, "Value of credits"; the SQL of
    `_held_value`, the rule the liability report uses). A canceled package holds
    nothing (0.00); an expired one still shows the value of its unused credits, which an
    extension of its expiry would bring back. Reads the practice's settings (one query)
    when `prices_include_tax` is not given."""
    if prices_include_tax is None:
        prices_include_tax = PracticeSettings.load().prices_include_tax
    return qs.annotate(
        remaining_value=Case(
            When(canceled_at__isnull=False, then=Value(ZERO)),
            When(credits__lte=F("consumed"), then=Value(ZERO)),
            default=_held_value(prices_include_tax),
            output_field=DecimalField(max_digits=16, decimal_places=2),
        )
    )


def client_packages_add_remaining_value(
    packages: list[ClientPackage], *, prices_include_tax: bool
) -> list[ClientPackage]:
    """Give each of `packages` (a page of rows, with `tax_rate` selected) the
    `remaining_value` that `client_packages_with_remaining_value` annotates, computed in
    Python by the same rule (P − V(k) net of tax: `package_net_price` and `credits_value`,
    each rounded half up to the cent as `_held_value` rounds them; 0.00 for a canceled
    or used-up package). No query; a test checks both agree. Returns `packages`."""
    for package in packages:
        value = ZERO
        if package.canceled_at is None and package.credits > package.consumed:
            net = package_net_price(package, prices_include_tax)
            value = net - credits_value(net, package.credits, package.consumed)
        setattr(package, "remaining_value", value)  # noqa: B010 - an annotation's name
    return packages
