"""The browser test of the Activity pages (test_activity_browser.py) uses the browser
tests' fixtures: Debian's Chromium, the live server and signing in."""

from tests.browser.conftest import (  # noqa: F401
    browser_context_args,
    browser_type_launch_args,
    live,
    screenshot,
    sign_in,
)
