"""bench/run.py: its table, ratios and wrk parsing on fixed inputs (fast), and one run of
the floor end to end (marked `bench`)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import pytest

from bench import run
from bench.run import API_FLOOR, PAGE_FLOOR, Measure, Request, Row, SearchResult

WRK_OUTPUT = """\
Running 2s test @ http://127.0.0.1:40001/client/1/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.33ms    1.02ms  15.20ms   80.00%
    Req/Sec   925.10     40.22     1.00k    70.00%
  Latency Distribution
     50%    4.10ms
     75%    4.80ms
     90%    5.60ms
     99%    1.20s
  1850 requests in 2.00s, 500.00KB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    924.62
Transfer/sec:    250.00KB
"""


def test_parse_wrk_reads_rate_percentiles_and_errors():
    measure = run.parse_wrk(WRK_OUTPUT)
    assert measure.rps == 924.62
    assert measure.p50_ms == 4.10
    assert measure.p99_ms == 1200.0  # seconds become milliseconds
    assert measure.errors == 3 + 4
    assert measure.requests == 1850


def test_parse_wrk_microseconds_and_refuses_other_output():
    text = WRK_OUTPUT.replace("4.10ms", "850.00us")
    assert run.parse_wrk(text).p50_ms == pytest.approx(0.85)
    with pytest.raises(ValueError):
        run.parse_wrk("wrk: connection refused")


def test_ratio_is_the_share_of_the_mean_floor_around_the_request():
    row = Row(
        Request("client list", "/clients/"),
        Measure(rps=96.0, p50_ms=40, p99_ms=80),
        floor_rps=[900.0, 1020.0],  # before and after: drift cancels in the mean
    )
    assert row.floor == 960.0
    assert row.ratio == pytest.approx(0.1)
    assert run.ratio(None, 960.0) is None
    assert run.ratio(50.0, None) is None
    assert run.ratio(50.0, 0.0) is None


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (0.09, (0.10, 0.25), "BELOW"),
        (0.10, (0.10, 0.25), "ok"),
        (0.24, (0.10, 0.25), "ok"),
        (0.25, (0.10, 0.25), "aim met"),
        (1.2, (1.0, None), "ok"),
        (0.99, (1.0, None), "BELOW"),
        (None, (1.0, None), ""),
        (0.5, (None, None), ""),
    ],
)
def test_verdict_against_minimum_and_aim(value, target, expected):
    assert run.verdict(value, target) == expected


def test_percentile_nearest_rank():
    values = [float(n) for n in range(1, 101)]  # 1..100, shuffled order does not matter
    assert run.percentile(list(reversed(values)), 50) == 50.0
    assert run.percentile(values, 95) == 95.0
    assert run.percentile(values, 100) == 100.0
    assert run.percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        run.percentile([], 50)


def _rows() -> list[Row]:
    floor = run.floor_row(
        PAGE_FLOOR,
        [Measure(rps=950.0, p50_ms=4.0, p99_ms=9.0), Measure(rps=970.0, p50_ms=4.2, p99_ms=11.0)],
    )
    page = Row(
        Request("calendar week", "/calendar/?view=week"),
        Measure(rps=48.0, p50_ms=80.0, p99_ms=150.0),
        floor_rps=[950.0, 970.0],
    )
    api = Row(
        Request("API clients (50)", "/api/v1/clients/", floor=API_FLOOR, target=run.TARGET_API),
        Measure(rps=300.0, p50_ms=12.0, p99_ms=30.0, errors=2),
        floor_rps=[250.0],
    )
    failed = Row(Request("invoice page", "/billing/0/"), error="answered 404")
    return [floor, page, api, failed]


def test_table_lines():
    header, floor, page, api, failed = run.table(_rows())
    assert header[:6] == ["request", "req/s", "p50 ms", "p99 ms", "floor req/s", "× floor"]
    assert floor == [PAGE_FLOOR, "960.0", "4.10", "10.00", "", "1.00", "", ""]
    assert page == [
        "calendar week",
        "48.0",
        "80.00",
        "150.00",
        "960.0",
        "0.050",
        "≥ 0.10 (aim 0.25)",
        "BELOW",
    ]
    assert api[5:] == ["1.200", "≥ 1.00", "ok (2 errors)"]
    assert failed == ["invoice page", "", "", "", "", "", "≥ 0.10 (aim 0.25)", "answered 404"]


def test_text_and_markdown_output():
    text = run.as_text(run.table(_rows()))
    lines = text.splitlines()
    assert lines[0].startswith("request")
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert "calendar week" in lines[3] and "0.050" in lines[3]

    searches = [
        SearchResult("API", "a phone", "0412 | 555", latencies_ms=[5.0, 6.0, 30.0]),
        SearchResult("list partial", "one letter", "b", latencies_ms=[3.0] * 20),
        SearchResult("Create appointment", "a name", "Lee", error="answered 403"),
    ]
    markdown = run.report_markdown(_rows(), searches, {"database": "3,000 clients"})
    assert "- database: 3,000 clients" in markdown
    assert "| calendar week | 48.0 | 80.00 | 150.00 | 960.0 | 0.050 |" in markdown
    assert "|---|---:|---:|---:|---:|---:|---|---|" in markdown
    # A | typed in a query does not break the markdown table.
    assert "| API: a phone | 0412 \\| 555 | 3 | 6.00 | 30.00 | p95 < 20 ms | BELOW |" in markdown
    assert "| list partial: one letter | b | 20 | 3.00 | 3.00 | p95 < 20 ms | ok |" in markdown
    assert "answered 403" in markdown


def test_schedule_measures_each_request_between_two_runs_of_its_floor():
    chosen = run.select(run.REQUESTS, "calendar") + run.select(run.REQUESTS, "API invoices")
    steps = [(kind, request.name) for kind, request in run.schedule(chosen)]
    assert steps == [
        ("floor", PAGE_FLOOR),
        ("measure", "calendar day"),
        ("floor", PAGE_FLOOR),
        ("measure", "calendar week"),
        ("floor", PAGE_FLOOR),
        ("floor", API_FLOOR),
        ("measure", "API invoices (50)"),
        ("floor", API_FLOOR),
    ]
    only_floors = run.schedule(run.select(run.REQUESTS, "floor"))
    assert [request.name for _, request in only_floors] == [PAGE_FLOOR, API_FLOOR]


def test_rounds_measure_each_request_several_times_each_between_floor_runs():
    chosen = run.select(run.REQUESTS, "calendar day")
    steps = [(kind, request.name) for kind, request in run.schedule(chosen, rounds=3)]
    one_round = [("measure", "calendar day"), ("floor", PAGE_FLOOR)]
    assert steps == [("floor", PAGE_FLOOR), *one_round, *one_round, *one_round]


def test_a_rows_ratio_is_its_median_round_and_one_disturbed_round_does_not_move_it():
    row = Row(Request("client list", "/clients/"))
    for rps, floors in ((96.0, [950.0, 970.0]), (40.0, [970.0, 990.0]), (99.0, [990.0, 990.0])):
        row.rounds.append(run.Round(Measure(rps=rps, p50_ms=rps / 2, p99_ms=rps), floors))
    # Ratios 0.1, ~0.0404 (the machine busy elsewhere during that round) and 0.1.
    assert row.ratio == pytest.approx(0.1)
    assert row.measure is not None and row.measure.rps == 96.0  # the median round's figures
    assert row.floor == 960.0
    low, high = row.spread or (0.0, 0.0)
    assert low == pytest.approx(40 / 980) and high == pytest.approx(0.1)
    line = run.table([row])[1]
    assert line[5] == f"0.100 ({40 / 980:.3f}–0.100)"
    # One round: no bracket, as before.
    single = Row(Request("client list", "/clients/"), Measure(96.0, 40, 80), floor_rps=[960.0])
    assert single.spread is None and run.table([single])[1][5] == "0.100"


@pytest.mark.bench
@pytest.mark.xdist_group("concurrency")  # keeps clear of the other server tests' cores
def test_quick_floor_run_end_to_end(db, tmp_path):
    from tests.database import database_url

    missing = [tool for tool in ("wrk",) if shutil.which(tool) is None]
    if shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None:
        missing.append("gunicorn")
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (`make bench` installs wrk)")
    output = tmp_path / "latest.md"
    env = {**os.environ, "DATABASE_URL": database_url(), "BENCH_LOGS": str(tmp_path)}
    env.pop("DATABASE_OWNER_URL", None)  # the floor only reads, as the app role
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--only", "floor", "--output", str(output)],
        cwd=run.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert PAGE_FLOOR in done.stdout and API_FLOOR in done.stdout
    markdown = output.read_text()
    for name in (PAGE_FLOOR, API_FLOOR):
        line = next(line for line in markdown.splitlines() if line.startswith(f"| {name} |"))
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert float(cells[1].replace(",", "")) > 0  # requests/s
        assert cells[5] == "1.00"
        assert "errors" not in line


def test_booking_slots_fill_a_day_then_the_next_and_rotate_packages():
    setup = run.BookingSetup(
        client=1,
        practitioner=2,
        location=3,
        service=4,
        packages=[10, 11],
        first_day=dt.date(2027, 1, 4),
    )
    assert (setup.form(0)["date"], setup.form(0)["start_time"]) == ("2027-01-04", "07:00")
    assert setup.form(47)["start_time"] == "18:45"
    assert (setup.form(48)["date"], setup.form(48)["start_time"]) == ("2027-01-05", "07:00")
    assert setup.form(run.CREDITS_A_PACKAGE - 1)["client_package"] == "10"
    assert setup.form(run.CREDITS_A_PACKAGE)["client_package"] == "11"
    bodies = run.booking_bodies(setup, range(2), "tok", "r1")
    assert "form_key=bench-r1-1" in bodies[1] and "csrfmiddlewaretoken=tok" in bodies[0]


def test_booking_script_posts_each_body_in_turn(tmp_path):
    script = run.booking_script(["a=1", "b=2"], tmp_path / "s.lua").read_text()
    assert '"a=1",' in script and '"b=2",' in script
    assert 'wrk.format("POST", nil, nil, bodies[math.min(i, #bodies)])' in script


def test_burst_table_judges_the_bookings_p99_and_shows_the_ledger():
    bookings = run.BurstResult(
        name="50 bookings",
        latencies_ms=[100.0] * 49 + [250.0],
        statuses=[200] * 50,
        note="50 credits used for 50 bookings, ledger exact",
    )
    floor = run.BurstResult(name="floor", latencies_ms=[5.0] * 50, statuses=[200] * 50)
    lines = run.burst_table([floor, bookings])
    assert lines[1][-1] == ""
    assert lines[2][2] == "50"
    assert lines[2][-1] == "ok; 50 credits used for 50 bookings, ledger exact"
    bookings.latencies_ms[-1] = 400.0
    assert run.burst_table([bookings])[1][-1].startswith("BELOW")


def test_bursts_in_rounds_show_the_median_round_and_the_range_of_p99s():
    def one(p99: float) -> run.BurstResult:
        return run.BurstResult(name="", latencies_ms=[90.0] * 49 + [p99], statuses=[200] * 50)

    rounds = [one(250.0), one(900.0), one(280.0)]  # the second round met a busy machine
    chosen = run.median_burst(rounds)
    assert chosen is rounds[2]
    chosen.name, chosen.note = "50 bookings", "150 credits used for 150 bookings, ledger exact"
    line = run.burst_table([chosen])[1]
    assert line[4] == "280.00 (250–900)"
    assert line[-1].startswith("ok; ")
    # One round: the p99 alone, as before.
    assert run.burst_table([run.median_burst([one(250.0)])])[1][4] == "250.00"


@pytest.mark.django_db
def test_the_table_says_which_database_settings_it_was_measured_with():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        (synchronous,) = cursor.fetchone()
    said = run.database_settings()
    assert said.startswith("PostgreSQL ")
    assert f"synchronous_commit {synchronous}" in said
    assert "shared_buffers " in said and "autovacuum " in said
