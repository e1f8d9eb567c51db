"""Browser tests: real Chromium (Debian's package) driven by Playwright against a live server.

Run them apart with `make test ARGS="-m browser"`; CI runs them with everything else.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.defaults import ensure_default_data
from tests.documents.conftest import billed, refusing_smtp, smtp  # noqa: F401 (fixtures)

# Playwright's sync API keeps an event loop in the test thread; the ORM calls our tests
# make beside it are synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--lang=en-AU",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}, "locale": "en-AU"}


@pytest.fixture
def live(live_server, transactional_db):
    """The live server with the migrations' default data restored."""
    ensure_default_data()
    return live_server


@pytest.fixture
def sign_in(live, page, client):
    """`sign_in(user)` opens a signed-in browser session for `user` (via its cookie)."""

    def _sign_in(user):
        client.force_login(user)
        cookie = client.cookies["sessionid"]
        page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live.url}])
        page.set_default_timeout(10_000)
        return page

    return _sign_in


@pytest.fixture
def screenshot(tmp_path):
    """`screenshot(page, "clients")` takes a screenshot of the page. With
    UPDATE_SCREENSHOTS=1 it is saved as docs/screenshots/clients.png for the README;
    otherwise in the test's temporary folder, so a test run leaves the tree as it was."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path

    def _shot(page, name: str, full_page: bool = True):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)

    return _shot
