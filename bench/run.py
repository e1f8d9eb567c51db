"""The benchmark: `make bench` (bench/README.md explains how to read it).

Starts the app with production settings (DEBUG off, gunicorn, one sync worker pinned to
core 0) and the floor app (bench/floor/, same Django and database, same pinning), signs in
once as a bench Admin, then measures each request with `wrk -t1 -c4` pinned to core 1,
each one between two measurements of its floor so that machine drift cancels, and the
client search percentiles with sequential requests. Prints one table and writes it to
bench/results/latest.md.

    python bench/run.py [--duration 5] [--rounds 3] [--only NAME] [--quick]

Needs DATABASE_URL (a migrated database; `make bench` seeds it when empty), gunicorn,
wrk and, for the pinning, taskset and two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.md"
BENCH_USER = "bench-admin"
APP_CORE, LOAD_CORE = 0, 1

# Targets of issue 10, as ratios to the floor measured in the same run: (minimum, aim).
TARGET_SMALLEST = (0.5, None)
TARGET_PAGE = (0.10, 0.25)
TARGET_PARTIAL = (0.20, 0.35)
TARGET_API = (1.0, None)
TARGET_BOOKING = (0.15, 0.30)
BURST = 50  # simultaneous bookings, against BURST_WORKERS workers
BURST_WORKERS = 4
WARM_BURST = 8  # simultaneous requests of each warm-up round (2 rounds) before a burst
BURST_P99_TARGET_MS = (300.0, 200.0)  # (minimum, aim)
TARGET_FLOOR = (None, None)
SEARCH_P95_TARGET_MS = 20.0

PAGE_FLOOR = "floor: one primary-key query as JSON"
API_FLOOR = "floor: plain DRF list of 50"


# ----------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """One measured request. `path` may hold {placeholders} filled from the practice's ids
    (see `Practice`); `floor` names the floor it is compared with."""

    name: str
    path: str
    floor: str = PAGE_FLOOR
    target: tuple[float | None, float | None] = TARGET_PAGE
    htmx: bool = False
    api: bool = False
    expect: int = 200
    contains: str = ""  # text the answer must hold (checked before measuring)
    booking: bool = False  # POSTs Create appointment with a package, a new slot each time

    @property
    def is_floor(self) -> bool:
        return self.name in (PAGE_FLOOR, API_FLOOR)


REQUESTS: list[Request] = [
    Request(PAGE_FLOOR, "/client/{client}/", target=TARGET_FLOOR),
    Request(API_FLOOR, "/api/clients/", floor=API_FLOOR, target=TARGET_FLOOR),
    Request("smallest signed-in page (/ redirects)", "/", target=TARGET_SMALLEST, expect=302),
    # {open_day}: today, or the next day with appointments when the practice is closed
    # today (a Sunday's calendar is empty: no measure of an ordinary day).
    Request("calendar day", "/calendar/?date={open_day}"),
    Request("calendar week", "/calendar/?view=week&date={open_day}"),
    Request("billing list", "/billing/"),
    Request("client list", "/clients/"),
    Request("client Overview", "/clients/{client}/"),
    Request("client package page", "/packages/{package}/"),
    Request("invoice page", "/billing/{invoice}/"),
    Request("reports dashboard", "/reports/"),
    Request("report: package liability (last month)", "/reports/package-liability/"),
    Request("report: expiring soon (30 days)", "/reports/expiring/"),
    Request("report: package sales (last month)", "/reports/package-sales/"),
    Request("report: aged receivables", "/reports/aged-receivables/"),
    Request("report: revenue (12 months)", "/reports/revenue/"),
    Request(
        "client search partial (list)",
        "/clients/?q={name_q}",
        target=TARGET_PARTIAL,
        htmx=True,
    ),
    Request(
        "client search partial (Create appointment)",
        "/calendar/new/clients/?client_query={name_q}",
        target=TARGET_PARTIAL,
        htmx=True,
    ),
    Request(
        "package banner partial (Create appointment)",
        "/calendar/new/packages/?client={client}&date={today}",
        target=TARGET_PARTIAL,
        htmx=True,
        contains="package matches",
    ),
    Request(
        "booking POST (Create appointment with a package)",
        "/calendar/new/",
        target=TARGET_BOOKING,
        htmx=True,
        booking=True,
        contains="Linked to package",
    ),
    Request("API clients (50)", "/api/v1/clients/", floor=API_FLOOR, target=TARGET_API, api=True),
    Request(
        "API client-packages (50)",
        "/api/v1/client-packages/",
        floor=API_FLOOR,
        target=TARGET_API,
        api=True,
    ),
    Request("API invoices (50)", "/api/v1/invoices/", floor=API_FLOOR, target=TARGET_API, api=True),
]

# Client search: where it is typed, and the kinds of query (filled from the practice).
SEARCH_SOURCES = {
    "list partial": ("/clients/?q={q}", {"htmx": True}),
    "Create appointment": ("/calendar/new/clients/?client_query={q}", {"htmx": True}),
    "API": ("/api/v1/clients/?search={q}", {"api": True}),
}
SEARCH_KINDS = ["one letter", "a name", "a common surname", "an email", "a phone", "two words"]


# ----------------------------------------------------------------------------- results


@dataclass
class Measure:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0  # non-2xx/3xx responses and socket errors
    requests: int = 0


@dataclass
class Round:
    """One measurement of a request and the runs of its floor around it."""

    measure: Measure
    floor_rps: list[float] = field(default_factory=list)  # the floor runs around it

    @property
    def floor(self) -> float | None:
        return statistics.fmean(self.floor_rps) if self.floor_rps else None

    @property
    def ratio(self) -> float | None:
        return ratio(self.measure.rps, self.floor)


class Row:
    """A request's line: its rounds (each measured between two runs of its floor). Its
    ratio is the median of the rounds' ratios, and the figures shown are the median
    round's: a burst of load from elsewhere on the machine during one round moves the
    line only when it lasts through most of them."""

    def __init__(
        self,
        request: Request,
        measure: Measure | None = None,
        floor_rps: Sequence[float] = (),
        error: str = "",
    ) -> None:
        self.request = request
        self.error = error
        self.rounds: list[Round] = []
        if measure is not None:
            self.rounds.append(Round(measure, list(floor_rps)))

    def _median_round(self) -> Round | None:
        rated = sorted((r for r in self.rounds if r.ratio is not None), key=lambda r: r.ratio or 0)
        if rated:
            return rated[(len(rated) - 1) // 2]
        return self.rounds[0] if self.rounds else None

    @property
    def measure(self) -> Measure | None:
        chosen = self._median_round()
        return chosen.measure if chosen else None

    @property
    def floor(self) -> float | None:
        chosen = self._median_round()
        return chosen.floor if chosen else None

    def _ratios(self) -> list[float]:
        return [r.ratio for r in self.rounds if r.ratio is not None]

    @property
    def ratio(self) -> float | None:
        ratios = self._ratios()
        return statistics.median(ratios) if ratios else None

    @property
    def spread(self) -> tuple[float, float] | None:
        """The lowest and highest round ratios (None for fewer than two rounds)."""
        ratios = self._ratios()
        return (min(ratios), max(ratios)) if len(ratios) > 1 else None


def ratio(rps: float | None, floor: float | None) -> float | None:
    """`rps` as a fraction of the floor's requests/s (None when either is missing)."""
    if rps is None or not floor:
        return None
    return rps / floor


def verdict(value: float | None, target: tuple[float | None, float | None]) -> str:
    """ "aim met", "ok" (the minimum, not the aim), "BELOW" or "" (no target / no value)."""
    minimum, aim = target
    if value is None or minimum is None:
        return ""
    if value < minimum:
        return "BELOW"
    if aim is not None and value < aim:
        return "ok"
    return "aim met" if aim is not None else "ok"


def target_text(target: tuple[float | None, float | None]) -> str:
    minimum, aim = target
    if minimum is None:
        return ""
    text = f"≥ {minimum:.2f}"
    return f"{text} (aim {aim:.2f})" if aim is not None else text


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile of `values` (nearest rank, as wrk and most tools report)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def table(rows: Sequence[Row]) -> list[list[str]]:
    """The main table: a header, then one line per request."""
    lines = [["request", "req/s", "p50 ms", "p99 ms", "floor req/s", "× floor", "target", "result"]]
    for row in rows:
        m = row.measure
        if row.request.is_floor:
            shown_ratio, target, mark = "1.00", "", ""
        else:
            shown_ratio = _num(row.ratio, 3)
            if row.spread is not None:
                low, high = row.spread
                shown_ratio += f" ({low:.3f}–{high:.3f})"
            target = target_text(row.request.target)
            mark = row.error or verdict(row.ratio, row.request.target)
        if m is not None and m.errors:
            mark = f"{mark} ({m.errors} errors)".strip()
        lines.append(
            [
                row.request.name,
                _num(m.rps if m else None),
                _num(m.p50_ms if m else None, 2),
                _num(m.p99_ms if m else None, 2),
                "" if row.request.is_floor else _num(row.floor),
                shown_ratio if m else "",
                target,
                mark,
            ]
        )
    return lines


@dataclass
class SearchResult:
    source: str
    kind: str
    query: str
    latencies_ms: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def p50(self) -> float | None:
        return percentile(self.latencies_ms, 50) if self.latencies_ms else None

    @property
    def p95(self) -> float | None:
        return percentile(self.latencies_ms, 95) if self.latencies_ms else None


def search_table(results: Sequence[SearchResult]) -> list[list[str]]:
    lines = [["client search", "query", "requests", "p50 ms", "p95 ms", "target", "result"]]
    for r in results:
        p95 = r.p95
        mark = r.error or ("" if p95 is None else ("ok" if p95 < SEARCH_P95_TARGET_MS else "BELOW"))
        lines.append(
            [
                f"{r.source}: {r.kind}",
                r.query,
                str(len(r.latencies_ms)),
                _num(r.p50, 2),
                _num(p95, 2),
                f"p95 < {SEARCH_P95_TARGET_MS:.0f} ms",
                mark,
            ]
        )
    return lines


def as_text(lines: list[list[str]]) -> str:
    """Aligned columns for the terminal (numbers right-aligned)."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for n, line in enumerate(lines):
        cells = []
        for i, cell in enumerate(line):
            numeric = n > 0 and bool(re.fullmatch(r"[\d,.]+", cell))
            cells.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def as_markdown(lines: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    header, *body = lines
    numeric = [
        all(re.fullmatch(r"[\d,.]*", line[i]) for line in body) and any(line[i] for line in body)
        for i in range(len(header))
    ]
    out = ["| " + " | ".join(cell(h) for h in header) + " |"]
    out.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    out += ["| " + " | ".join(cell(c) for c in line) + " |" for line in body]
    return "\n".join(out)


def report_markdown(
    rows: Sequence[Row],
    searches: Sequence[SearchResult],
    about: dict[str, str],
    bursts: Sequence[BurstResult] = (),
) -> str:
    parts = ["# Benchmark: latest run", ""]
    parts += [f"- {key}: {value}" for key, value in about.items()]
    if rows:
        parts += ["", as_markdown(table(rows))]
    if searches:
        parts += ["", as_markdown(search_table(searches))]
    if bursts:
        parts += ["", as_markdown(burst_table(bursts))]
    parts += [
        "",
        "× floor: requests/s divided by the floor's, measured just before and after in the "
        "same run (bench/README.md).",
        "",
    ]
    return "\n".join(parts)


# ----------------------------------------------------------------------------- wrk

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Measure:
    """Requests/s, p50 and p99 (ms) and errors from `wrk --latency`'s output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s*50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.M)
    if not (rps and p50 and p99):
        raise ValueError(f"unexpected wrk output:\n{output}")
    total = re.search(r"(\d+) requests in", output)
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sock:
        errors += sum(int(n) for n in sock.groups())
    return Measure(
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        errors=errors,
        requests=int(total.group(1)) if total else 0,
    )


def pinned(core: int, command: list[str]) -> list[str]:
    """`command` run on one core with taskset, when there is taskset and a second core."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *command]
    return command


def run_wrk(
    url: str, headers: dict[str, str], duration: int, script: Path | None = None
) -> Measure:
    command = ["wrk", "-t1", "-c4", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run(  # noqa: S603 - our own command line
        pinned(LOAD_CORE, [*command, url]), capture_output=True, text=True, check=True
    )
    return parse_wrk(done.stdout)


# ----------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env() -> dict[str, str]:
    """Production settings, over plain HTTP on 127.0.0.1."""
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        HTTPS="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        # The throttle's work stays in every API request; only its limit is out of reach
        # (wrk sends far more than 1000 a minute).
        API_THROTTLE_USER="100000000/min",
    )
    env.pop("CASPEN_PLAIN_STATIC", None)  # the hashed manifest, as in production
    if not env.get("SECRET_KEY"):
        # The development key, as `make run` uses (the ledger chain key derives from it).
        env["CASPEN_ALLOW_INSECURE_KEY"] = "1"
    env.pop("PYTEST_VERSION", None)
    return env


@contextlib.contextmanager
def gunicorn(
    wsgi: str, port: int, env: dict[str, str], log: Path, workers: int = 1
) -> Iterator[str]:
    """`workers` sync workers (one: pinned to APP_CORE), stopped on exit; yields its base
    URL."""
    binary = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which(
        "gunicorn"
    )
    if binary is None:
        raise SystemExit("gunicorn is missing: install the project (`make venv`).")
    command = [
        binary,
        wsgi,
        f"--workers={workers}",
        "--worker-class=sync",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        "--timeout=120",
    ]
    handle = log.open("w")
    process = subprocess.Popen(  # noqa: S603 - our own command line
        pinned(APP_CORE, command) if workers == 1 else command,
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{wsgi} did not start; its log:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{wsgi} did not listen within 60 s; see {log}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        handle.close()


class Http:
    """Keep-alive HTTP to one server, with the session cookie or API key when given."""

    def __init__(self, base: str, cookies: dict[str, str] | None = None, token: str = ""):
        parsed = urllib.parse.urlsplit(base)
        self.base = base
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.cookies = cookies if cookies is not None else {}
        self.token = token

    def headers(self, htmx: bool = False, api: bool = False) -> dict[str, str]:
        headers = {}
        if api and self.token:
            headers["Authorization"] = f"Token {self.token}"
        elif self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if htmx:
            headers["HX-Request"] = "true"
        return headers

    def request(
        self,
        method: str,
        path: str,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def sign_in(self, username: str, password: str) -> None:
        status, _, page = self.request("GET", "/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not token:
            raise SystemExit(f"GET /login/ answered {status} without a CSRF token")
        form = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": token.group(1).decode(),
                "username": username,
                "password": password,
            }
        )
        status, headers, _ = self.request(
            "POST",
            "/login/",
            body=form,
            headers={
                **self.headers(),
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"{self.base}/login/",
            },
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"Signing in as {username} failed ({status})")


# ----------------------------------------------------------------------------- the practice


@dataclass
class Practice:
    """What the requests need from the database, found once before the servers start."""

    ids: dict[str, str]
    searches: dict[str, str]
    clients: int
    password: str = ""
    api_key: str = ""
    booking: BookingSetup | None = None


# The booking POST and the burst book a bench client on a bench practitioner with no
# working hours, 15-minute sessions from 07:00 to 19:00 on days after any booked by an
# earlier run, each linked to a flexible package of the bench's (made through the
# services, reused from run to run; every run sells fresh packages).
BENCH_CLIENT, BENCH_PRACTITIONER = ("Bench", "Booker"), "Bench practitioner"
BENCH_SERVICE, BENCH_PACKAGE, BENCH_LOCATION = "Bench session", "Bench pass", "Bench room"
SLOTS_A_DAY = 48  # 07:00-19:00 in 15 minutes
CREDITS_A_PACKAGE = 1000  # the catalog's most


@dataclass
class BookingSetup:
    client: int
    practitioner: int
    location: int
    service: int
    packages: list[int]  # each serves CREDITS_A_PACKAGE slots in turn
    first_day: dt.date
    # One package per booking of the spread burst (BURST of them; none without a burst).
    burst_packages: list[int] = field(default_factory=list)

    def form(self, slot: int, package: int | None = None) -> dict[str, str]:
        """Create appointment's fields for the `slot`th booking of this run (with
        `package`, that package instead of the run's packages in turn)."""
        day = self.first_day + dt.timedelta(days=slot // SLOTS_A_DAY)
        minute = 7 * 60 + (slot % SLOTS_A_DAY) * 15
        return {
            "client": str(self.client),
            "practitioner": str(self.practitioner),
            "location": str(self.location),
            "service": str(self.service),
            "date": day.isoformat(),
            "start_time": f"{minute // 60:02d}:{minute % 60:02d}",
            "client_package": str(package or self.packages[slot // CREDITS_A_PACKAGE]),
            "every_weeks": "1",
            "count": "6",
        }


def prepare_booking(user, slots: int, burst: int = 0) -> BookingSetup:
    """The bench's client, practitioner, room, service and package (made once), and
    fresh packages enough for `slots` bookings, plus `burst` more (one a booking)."""
    from decimal import Decimal

    from django.db.models import Max
    from django.utils import timezone

    from calendar_app.models import Appointment, Location, Practitioner
    from calendar_app.services import location_create, practitioner_create
    from catalog.models import Package, Service
    from catalog.services import package_create, service_create
    from clients.models import Client
    from clients.services import client_create
    from packages.services import client_package_assign

    first, last = BENCH_CLIENT
    client = Client.objects.filter(
        first_name=first, last_name=last, archived=False
    ).first() or client_create(first_name=first, last_name=last, by=user)
    practitioner = Practitioner.objects.filter(
        name=BENCH_PRACTITIONER, archived=False
    ).first() or practitioner_create(name=BENCH_PRACTITIONER, by=user)
    location = Location.objects.filter(
        name=BENCH_LOCATION, archived=False
    ).first() or location_create(name=BENCH_LOCATION, by=user)
    service = Service.objects.filter(name=BENCH_SERVICE, archived=False).first() or (
        service_create(
            name=BENCH_SERVICE,
            category=None,
            duration_minutes=15,
            price=Decimal("10.00"),
            by=user,
        )
    )
    package = Package.objects.filter(name=BENCH_PACKAGE, archived=False).first() or (
        package_create(
            name=BENCH_PACKAGE,
            credits=CREDITS_A_PACKAGE,
            price=Decimal("10.00"),
            services=[service],
            by=user,
        )
    )
    sold = [
        client_package_assign(client=client, package=package, by=user).pk
        for _ in range(slots // CREDITS_A_PACKAGE + 1)
    ]
    spread = [
        client_package_assign(client=client, package=package, by=user).pk for _ in range(burst)
    ]
    latest = Appointment.objects.filter(practitioner=practitioner).aggregate(Max("starts_at"))
    after = timezone.localdate(latest["starts_at__max"]) if latest["starts_at__max"] else None
    first_day = max(after or timezone.localdate(), timezone.localdate()) + dt.timedelta(days=1)
    return BookingSetup(
        client=client.pk,
        practitioner=practitioner.pk,
        location=location.pk,
        service=service.pk,
        packages=sold,
        first_day=first_day,
        burst_packages=spread,
    )


def ledger_exact(packages: Sequence[int]) -> tuple[bool, int]:
    """Whether the ledger explains the bench packages exactly (packages.selectors), and
    how many credits they have used."""
    from django.db import connection, transaction

    from packages.models import ClientPackage
    from packages.selectors import ledger_discrepancies

    # One snapshot for all the check's statements: a booking committing between two of
    # them (the last of a wrk run, still being answered) would look like a discrepancy.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        used = sum(ClientPackage.objects.filter(pk__in=packages).values_list("consumed", flat=True))
        return not ledger_discrepancies(list(packages)), used


def django_setup() -> None:
    os.environ.update(app_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caspen.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _open_day(today: dt.date) -> dt.date:
    """Today, or the first of the next 7 days with an appointment (else today)."""
    from django.db import connection
    from django.utils import timezone

    start = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(starts_at) FROM calendar_app_appointment"
            " WHERE starts_at >= %s AND starts_at < %s",
            [start, start + dt.timedelta(days=7)],
        )
        (first,) = cursor.fetchone()
    return timezone.localtime(first).date() if first else today


def prepare_practice(*, need_app: bool, booking_slots: int = 0, burst: int = 0) -> Practice:
    """Pick the client, package, invoice and search words the requests use, and (when the
    app is measured) make the bench Admin with a fresh password and API key."""
    django_setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), min(id) FROM clients_client")
        count, first = cursor.fetchone()
    ids = {"client": str(first or 1), "today": dt.datetime.now(dt.UTC).date().isoformat()}
    if not need_app:
        connection.close()
        return Practice(ids=ids, searches={}, clients=count)
    if not count:
        raise SystemExit("The database has no clients: seed it (`make bench` does).")

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models import Count
    from django.utils import timezone

    from clients.models import Client
    from invoicing.models import Invoice
    from packages.models import ClientPackage
    from packages.selectors import client_package_matches
    from practice import roles
    from practice.api_keys import api_key_create

    ids["today"] = timezone.localdate().isoformat()
    ids["open_day"] = _open_day(timezone.localdate()).isoformat()
    # A busy client (among those with the most packages, one with a package that an
    # appointment today may use: a rich Overview, and a banner in Create appointment),
    # and that package.
    busy = (
        ClientPackage.objects.filter(client__archived=False)
        .values_list("client_id", flat=True)
        .annotate(n=Count("id"))
        .order_by("-n", "client_id")[:50]
    )
    package = None
    for client in Client.objects.filter(pk__in=list(busy)).order_by("pk"):
        package = client_package_matches(client=client, on_date=timezone.localdate()).first()
        if package is not None:
            break
    package = package or ClientPackage.objects.order_by("-id").first()
    if package is not None:
        ids["client"] = str(package.client_id)
    invoice = (
        Invoice.objects.filter(number__isnull=False).order_by("-id").first()
        or Invoice.objects.order_by("-id").first()
    )
    ids["package"] = str(package.pk) if package else "0"
    ids["invoice"] = str(invoice.pk) if invoice else "0"

    # Search words from a real client with an email and a phone.
    with_contacts = Client.objects.filter(archived=False).exclude(email="").exclude(phone="")
    middle = with_contacts.order_by("id")[count // 2 : count // 2 + 1]
    sample = next(iter(middle), None) or Client.objects.order_by("id").first()
    assert sample is not None
    # The practice's most frequent surname: a search with hundreds or thousands of
    # matches, wherever it sits in the alphabet.
    common = (
        Client.objects.filter(archived=False)
        .values_list("last_name", flat=True)
        .annotate(n=Count("id"))
        .order_by("-n", "last_name")
        .first()
    )
    searches = {
        "one letter": sample.last_name[:1].lower(),
        "a name": sample.last_name,
        "a common surname": common or sample.last_name,
        "an email": sample.email or sample.last_name,
        "a phone": sample.phone or sample.last_name,
        "two words": f"{sample.first_name} {sample.last_name}",
    }
    ids["name_q"] = urllib.parse.quote(sample.last_name)

    User = get_user_model()
    password = secrets.token_urlsafe(24)
    user = User.objects.filter(username=BENCH_USER).first() or User(username=BENCH_USER)
    user.first_name, user.last_name = "Bench", "Admin"
    user.is_active, user.is_staff = True, True
    user.set_password(password)  # revokes the previous run's API key (practice.api_keys)
    user.save()
    user.groups.set([Group.objects.get(name=roles.ADMIN)])
    key = api_key_create(user=user, name=f"bench {timezone.now():%Y-%m-%d %H:%M}", by=None)
    booking = prepare_booking(user, booking_slots, burst) if booking_slots else None
    connection.close()
    return Practice(
        ids=ids,
        searches=searches,
        clients=count,
        password=password,
        api_key=key.key,
        booking=booking,
    )


# ----------------------------------------------------------------------------- bookings


def booking_bodies(
    setup: BookingSetup,
    slots: range,
    token: str,
    run: str,
    packages: Sequence[int] = (),
) -> list[str]:
    """Create appointment's form, urlencoded, for each slot (each with its own form key,
    as a page sends); with `packages`, the nth slot books on the nth package."""
    return [
        urllib.parse.urlencode(
            {
                **setup.form(slot, packages[n] if packages else None),
                "csrfmiddlewaretoken": token,
                "form_key": f"bench-{run}-{slot}",
            }
        )
        for n, slot in enumerate(slots)
    ]


def booking_script(bodies: Sequence[str], path: Path) -> Path:
    """A wrk script POSTing `bodies` in turn (urlencoded: nothing to escape in Lua)."""
    lines = ["local bodies = {", *(f'"{body}",' for body in bodies), "}", "local i = 0"]
    lines += [
        "request = function()",
        "  i = i + 1",
        '  return wrk.format("POST", nil, nil, bodies[math.min(i, #bodies)])',
        "end",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def booking_headers(http: Http) -> dict[str, str]:
    return {
        **http.headers(htmx=True),
        "HX-Target": "modal-body",
        "Content-Type": "application/x-www-form-urlencoded",
    }


@dataclass
class BurstResult:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    note: str = ""  # the ledger's verdict for bookings
    round_p99s: list[float] = field(default_factory=list)  # every round's, when several

    @property
    def ok(self) -> int:
        return sum(1 for status in self.statuses if 200 <= status < 400)

    @property
    def p99(self) -> float | None:
        return percentile(self.latencies_ms, 99) if self.latencies_ms else None


def burst(
    base: str, requests: Sequence[tuple[str, str, str | None, dict[str, str]]]
) -> BurstResult:
    """Send `requests` (method, path, body, headers) at once, one connection each, and
    time each answer."""
    import threading

    result = BurstResult(name="")
    ready = threading.Barrier(len(requests))
    lock = threading.Lock()

    def one(method: str, path: str, body: str | None, headers: dict[str, str]) -> None:
        conn = Http(base).conn
        conn.connect()
        ready.wait()
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = 0
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            result.latencies_ms.append(elapsed)
            result.statuses.append(status)
        conn.close()

    threads = [threading.Thread(target=one, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def median_burst(rounds: Sequence[BurstResult]) -> BurstResult:
    """The round with the median p99 (the lower of the two middle ones for an even count),
    with every round's p99 kept for the table's range."""
    ordered = sorted(rounds, key=lambda r: r.p99 or 0)
    chosen = ordered[(len(ordered) - 1) // 2]
    chosen.round_p99s = [r.p99 for r in rounds if r.p99 is not None]
    return chosen


def burst_table(results: Sequence[BurstResult]) -> list[list[str]]:
    lines = [["burst", "requests", "answered", "p50 ms", "p99 ms", "target", "result"]]
    for r in results:
        p99 = r.p99
        target, mark = "", ""
        if r.note:  # the bookings
            minimum, aim = BURST_P99_TARGET_MS
            target = f"p99 < {minimum:.0f} ms (aim {aim:.0f})"
            if p99 is not None:
                mark = "BELOW" if p99 >= minimum else ("ok" if p99 >= aim else "aim met")
            mark = f"{mark}; {r.note}"
        lines.append(
            [
                r.name,
                str(len(r.statuses)),
                str(r.ok),
                _num(percentile(r.latencies_ms, 50) if r.latencies_ms else None, 2),
                _num(p99, 2)
                + (
                    f" ({min(r.round_p99s):.0f}–{max(r.round_p99s):.0f})"
                    if len(r.round_p99s) > 1
                    else ""
                ),
                target,
                mark,
            ]
        )
    return lines


# ----------------------------------------------------------------------------- the run


def select(requests: Sequence[Request], only: str | None) -> list[Request]:
    if not only:
        return list(requests)
    return [r for r in requests if only.lower() in r.name.lower()]


def schedule(requests: Sequence[Request], rounds: int = 1) -> list[tuple[str, Request]]:
    """The order of the wrk runs: each floor, then for each request its floor again after
    it (F R1 F R2 F ...), so every request is measured between two runs of its floor;
    with `rounds`, each request that many times in a row (F R1 F R1 F R1 F R2 F ...)."""
    steps: list[tuple[str, Request]] = []
    floors = {r.name: r for r in REQUESTS if r.is_floor}
    for floor_name in (PAGE_FLOOR, API_FLOOR):
        measured = [r for r in requests if not r.is_floor and r.floor == floor_name]
        if not measured and floors[floor_name] not in requests:
            continue
        steps.append(("floor", floors[floor_name]))
        for request in measured:
            for _ in range(rounds):
                steps.append(("measure", request))
                steps.append(("floor", floors[floor_name]))
    return steps


def check(http: Http, request: Request, path: str) -> str:
    """ "" when the request answers as expected (a few warm-up calls), else what is wrong."""
    for _ in range(3):
        status, headers, body = http.request(
            "GET", path, headers=http.headers(htmx=request.htmx, api=request.api)
        )
    if status != request.expect:
        return f"answered {status}"
    if request.contains and request.contains.encode() not in body:
        return f"answer lacks {request.contains!r}"
    if status == 302 and "/login/" in headers.get("location", ""):
        return "not signed in"
    return ""


def measure_searches(
    app: Http, practice: Practice, count: int, sources: Sequence[str]
) -> list[SearchResult]:
    results = []
    for source in sources:
        template, flags = SEARCH_SOURCES[source]
        for kind in SEARCH_KINDS:
            query = practice.searches[kind]
            path = template.format(q=urllib.parse.quote(query))
            result = SearchResult(source=source, kind=kind, query=query)
            headers = app.headers(**flags)
            status, _, _ = app.request("GET", path, headers=headers)
            if status != 200:
                result.error = f"answered {status}"
            else:
                for _ in range(count):
                    started = time.perf_counter()
                    app.request("GET", path, headers=headers)
                    result.latencies_ms.append((time.perf_counter() - started) * 1000)
            results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 5)")
    parser.add_argument(
        "--rounds",
        type=int,
        help="measurements of each request, each between two runs of its floor; the "
        "table shows the median round (default 3, 1 with --quick)",
    )
    parser.add_argument("--only", help="measure only the requests whose name contains this")
    parser.add_argument(
        "--quick", action="store_true", help="2 s per wrk run and 20 searches of each kind"
    )
    parser.add_argument(
        "--searches", type=int, help="sequential requests per search kind (default 200)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    duration = args.duration or (2 if args.quick else 5)
    rounds = max(1, args.rounds or (1 if args.quick else 3))
    searches = args.searches or (20 if args.quick else 200)

    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("DATABASE_URL is not set (`make bench` sets it).")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `make bench` installs it, or: sudo apt-get install wrk")

    chosen = select(REQUESTS, args.only)
    search_sources = [
        s for s in SEARCH_SOURCES if not args.only or args.only.lower() in f"search {s}".lower()
    ]
    if not chosen and not search_sources:
        raise SystemExit(f"No request matches --only {args.only!r}.")
    do_burst = not args.only or any(w in args.only.lower() for w in ("burst", "booking"))
    need_app = any(not r.is_floor for r in chosen) or bool(search_sources) or do_burst
    booking_slots = 0
    if any(r.booking for r in chosen) or do_burst:
        booking_slots = (
            rounds * (duration * 400 + 1 + 2 * BURST) + 2 * WARM_BURST + 10
        )  # more than one worker can book
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    practice = prepare_practice(
        need_app=need_app, booking_slots=booking_slots, burst=BURST if do_burst else 0
    )
    run_id = secrets.token_hex(4)
    next_slot = 0
    env = app_env()
    env["DJANGO_SETTINGS_MODULE"] = "caspen.settings"
    if need_app:
        # The hashed static files the production storage needs (into staticfiles/).
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
    logs = Path(os.environ.get("BENCH_LOGS") or tempfile.gettempdir())
    floor_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.floor.settings"}

    with contextlib.ExitStack() as stack:
        floor_base = stack.enter_context(
            gunicorn(
                "bench.floor.wsgi:application", free_port(), floor_env, logs / "bench-floor.log"
            )
        )
        floor = Http(floor_base)
        app = None
        if need_app:
            app_base = stack.enter_context(
                gunicorn("caspen.wsgi:application", free_port(), env, logs / "bench-app.log")
            )
            app = Http(app_base)
            app.sign_in(BENCH_USER, practice.password)
            app.token = practice.api_key

        rows: dict[str, Row] = {r.name: Row(r) for r in chosen if not r.is_floor}
        floor_runs: dict[str, list[Measure]] = {PAGE_FLOOR: [], API_FLOOR: []}
        last_floor: dict[str, float] = {}
        steps = schedule(chosen, rounds)
        for n, (kind, request) in enumerate(steps, 1):
            server = floor if request.is_floor else app
            assert server is not None
            path = request.path.format(**practice.ids)
            label = f"[{n}/{len(steps)}] {request.name}"
            if kind == "measure" and rows[request.name].error:
                continue  # refused in an earlier round
            before = [last_floor[request.floor]] if request.floor in last_floor else []
            if kind == "measure" and request.booking:
                row = rows[request.name]
                setup = practice.booking
                assert setup is not None and app is not None
                token = app.cookies.get("csrftoken", "")
                trial = booking_bodies(setup, range(next_slot, next_slot + 1), token, run_id)
                status, _, body = app.request("POST", path, trial[0], booking_headers(app))
                next_slot += 1
                if status != request.expect or request.contains.encode() not in body:
                    row.error = f"answered {status}"
                    print(f"{label}: {row.error}, skipped", flush=True)
                    continue
                bodies = booking_bodies(
                    setup, range(next_slot, next_slot + duration * 400), token, run_id
                )
                next_slot += len(bodies)
                script = booking_script(bodies, logs / "bench-booking.lua")
                measure = run_wrk(server.base + path, booking_headers(app), duration, script)
                exact, used = ledger_exact(setup.packages)
                if not exact:
                    row.error = "ledger NOT exact"
                print(f"{label}: {measure.rps:,.1f} req/s ({used} credits used)", flush=True)
                row.rounds.append(Round(measure, before))
                continue
            if kind == "measure":
                row = rows[request.name]
                if not row.rounds:  # warmed up and checked once, before its first round
                    row.error = check(server, request, path)
                if row.error:
                    print(f"{label}: {row.error}, skipped", flush=True)
                    continue
            elif not floor_runs[request.name]:
                error = check(server, request, path)
                if error:
                    raise SystemExit(f"The floor {request.name!r} {error}")
            headers = server.headers(htmx=request.htmx, api=request.api)
            measure = run_wrk(server.base + path, headers, duration)
            print(f"{label}: {measure.rps:,.1f} req/s", flush=True)
            if kind == "measure":
                rows[request.name].rounds.append(Round(measure, before))
            else:
                floor_runs[request.name].append(measure)
                last_floor[request.name] = measure.rps
                # This floor run also closes the round measured just before it.
                previous = steps[n - 2] if n >= 2 else None
                if previous and previous[0] == "measure":
                    prev_row = rows[previous[1].name]
                    if prev_row.rounds and len(prev_row.rounds[-1].floor_rps) < 2:
                        prev_row.rounds[-1].floor_rps.append(measure.rps)

        search_results: list[SearchResult] = []
        if app is not None and search_sources:
            print(f"Client search: {searches} sequential requests per query", flush=True)
            with pinned_self(LOAD_CORE):
                search_results = measure_searches(app, practice, searches, search_sources)

        bursts: list[BurstResult] = []
        if app is not None and do_burst and practice.booking is not None:
            print(f"Burst: {BURST} simultaneous requests, {BURST_WORKERS} workers", flush=True)
            floor4 = stack.enter_context(
                gunicorn(
                    "bench.floor.wsgi:application",
                    free_port(),
                    floor_env,
                    logs / "bench-floor-4.log",
                    workers=BURST_WORKERS,
                )
            )
            app4 = stack.enter_context(
                gunicorn(
                    "caspen.wsgi:application",
                    free_port(),
                    env,
                    logs / "bench-app-4.log",
                    workers=BURST_WORKERS,
                )
            )
            floor_path = REQUESTS[0].path.format(**practice.ids)
            setup = practice.booking
            token = app.cookies.get("csrftoken", "")
            for _ in range(2):  # warm every worker with the requests it is measured on
                burst(floor4, [("GET", floor_path, None, {})] * WARM_BURST)
                burst(app4, [("GET", "/", None, app.headers())] * WARM_BURST)
                # A worker's first booking loads the form's and the panel's templates and
                # builds the statements kept per process (kernel.prepared); a server's
                # workers are long past it, as the floor's are past their first GET.
                bodies = booking_bodies(
                    setup, range(next_slot, next_slot + WARM_BURST), token, run_id
                )
                next_slot += WARM_BURST
                warm = burst(
                    app4,
                    [("POST", "/calendar/new/", body, booking_headers(app)) for body in bodies],
                )
                if warm.ok != WARM_BURST:
                    print(f"Warning: {WARM_BURST - warm.ok} warm-up bookings failed", flush=True)
            # Each burst `rounds` times, the median round (by p99) shown: 50 requests at
            # once are over in a fraction of a second, and one moment of load from
            # elsewhere on the machine would decide a single round.
            floor_rounds = [
                burst(floor4, [("GET", floor_path, None, {})] * BURST) for _ in range(rounds)
            ]
            result = median_burst(floor_rounds)
            result.name = f"floor: {BURST} simultaneous GETs"
            bursts.append(result)
            # First as front desks book: each booking on its own client package (the
            # target's case); then all on one package, the worst case, where each booking
            # waits for the one before it to commit (the package's row lock).
            for spread, name in (
                (True, "each on its own package"),
                (False, "all on one package (worst case: one row lock)"),
            ):
                packages = setup.burst_packages if spread else setup.packages
                booking_rounds, exact_rounds, booked = [], [], 0
                for _ in range(rounds):
                    _, used_before = ledger_exact(packages)
                    bodies = booking_bodies(
                        setup,
                        range(next_slot, next_slot + BURST),
                        token,
                        run_id,
                        setup.burst_packages if spread else (),
                    )
                    next_slot += BURST
                    one_round = burst(
                        app4,
                        [("POST", "/calendar/new/", body, booking_headers(app)) for body in bodies],
                    )
                    exact, used_after = ledger_exact(packages)
                    booked += used_after - used_before
                    exact_rounds.append(exact)
                    booking_rounds.append(one_round)
                result = median_burst(booking_rounds)
                result.name = (
                    f"{BURST} simultaneous bookings (Create appointment with a package), {name}"
                )
                answered = sum(r.ok for r in booking_rounds)
                in_rounds = f" in {rounds} rounds" if rounds > 1 else ""
                result.note = (
                    f"{booked} credits used for {answered} bookings{in_rounds}, ledger "
                    + ("exact" if all(exact_rounds) and booked == answered else "NOT EXACT")
                )
                bursts.append(result)

    table_rows = [floor_row(name, runs) for name, runs in floor_runs.items() if runs]
    table_rows += [rows[r.name] for r in chosen if not r.is_floor]
    about = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "database": f"{practice.clients:,} clients; {database_settings()}",
        "method": (
            f"gunicorn 1 sync worker on core {APP_CORE}, wrk -t1 -c4 -d{duration}s on core "
            f"{LOAD_CORE}, {rounds} round{'s' if rounds != 1 else ''} of each request between "
            f"runs of its floor (the median round shown, the range of the rounds' ratios "
            f"in brackets); search: {searches} sequential requests each"
        ),
        "machine": machine(),
        "load average (1 min)": f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
        "wall time": f"{time.monotonic() - started:.0f} s",
    }
    if table_rows:
        print()
        print(as_text(table(table_rows)))
    if search_results:
        print()
        print(as_text(search_table(search_results)))
    if bursts:
        print()
        print(as_text(burst_table(bursts)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        report_markdown(table_rows, search_results, about, bursts), encoding="utf-8"
    )
    print(f"\nWritten to {args.output} ({about['wall time']}).")
    return 0


def floor_row(name: str, runs: Sequence[Measure]) -> Row:
    """A floor's line: the mean of its runs' requests/s, the median of their percentiles."""
    request = next(r for r in REQUESTS if r.name == name)
    measure = Measure(
        rps=statistics.fmean(m.rps for m in runs),
        p50_ms=statistics.median(m.p50_ms for m in runs),
        p99_ms=statistics.median(m.p99_ms for m in runs),
        errors=sum(m.errors for m in runs),
        requests=sum(m.requests for m in runs),
    )
    return Row(request, measure, floor_rps=[m.rps for m in runs])


@contextlib.contextmanager
def pinned_self(core: int) -> Iterator[None]:
    """Run this process on `core` for a while (the sequential searches)."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def git_commit() -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown"
    done = subprocess.run(  # noqa: S603 - a fixed command
        [git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


# The server settings that change what a write costs (the COMMIT's wait for the disk, the
# cache of pages, the dead rows left between runs): the table says which it was measured
# with (the project's local cluster of `make bench` commits without waiting for the disk).
DATABASE_SETTINGS = ("synchronous_commit", "shared_buffers", "autovacuum")


def database_settings() -> str:
    """The PostgreSQL version and DATABASE_SETTINGS of the bench's database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
        values = []
        for name in DATABASE_SETTINGS:
            cursor.execute(f"SHOW {name}")  # names from DATABASE_SETTINGS
            values.append(f"{name} {cursor.fetchone()[0]}")
    return f"PostgreSQL {version.split()[0]}, " + ", ".join(values)


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores{', ' + model if model else ''}"


if __name__ == "__main__":
    sys.exit(main())
