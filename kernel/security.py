"""Security middleware: a Content-Security-Policy, no caching of signed-in answers, and an
absolute session lifetime.

Django 5.2 has no built-in CSP (it arrives in 6.0). The staff pages need nothing inline:
htmx is served from our static files and configured by a <meta> tag, our script and
styles are files. The Django admin and the API docs keep a few inline styles and
scripts of their own, so they get a slightly looser policy.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect

STRICT_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# The admin's and Swagger UI's own templates carry inline styles and scripts.
LOOSE_POLICY = STRICT_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'unsafe-inline'"
).replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
LOOSE_PREFIXES = ("/admin/", "/api/docs/", "/api/redoc/")

SESSION_STARTED_KEY = "caspen_session_started"
SESSION_REFRESHED_KEY = "caspen_session_refreshed"


def stamp_session_on_sign_in(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: the absolute lifetime starts at sign-in, and the expiry is
    fresh (the session is saved with the sign-in), so the next request writes nothing."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SESSION_STARTED_KEY] = now
        request.session[SESSION_REFRESHED_KEY] = now


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            loose = request.path.startswith(LOOSE_PREFIXES)
            response["Content-Security-Policy"] = LOOSE_POLICY if loose else STRICT_POLICY
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


class AbsoluteSessionTimeoutMiddleware:
    """End a signed-in session `SESSION_ABSOLUTE_SECONDS` after sign-in, however active,
    and keep the idle timeout (`SESSION_COOKIE_AGE`, the expiry Django stores with each
    save of the session) moving forward.

    The session is saved only when it changed, and to refresh its expiry at most once every
    `SESSION_REFRESH_SECONDS` (not on every request: a GET writes nothing). So an idle
    session ends between `SESSION_COOKIE_AGE - SESSION_REFRESH_SECONDS` and
    `SESSION_COOKIE_AGE` after the last request: never later than the idle timeout.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            started = request.session.get(SESSION_STARTED_KEY)
            now = int(time.time())
            if started is None:
                request.session[SESSION_STARTED_KEY] = now
            elif now - started > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
                messages.info(request, "Your session has ended. Please sign in again.")
                return redirect(f"{settings.LOGIN_URL_PATH}?next={request.path}")
            refreshed = request.session.get(SESSION_REFRESHED_KEY, 0)
            if not 0 <= now - refreshed < settings.SESSION_REFRESH_SECONDS:
                # Changing the session saves it, with a fresh expiry and cookie.
                request.session[SESSION_REFRESHED_KEY] = now
        return self.get_response(request)


class NoStoreForSignedInMiddleware:
    """`Cache-Control: no-store` on every answer to a signed-in user (pages and API answers
    carry health data): no browser, shared computer's back button or proxy keeps a copy.

    Judged after the view, so API token authentication (set inside the view) counts too.
    Static files (served before this middleware, or under STATIC_URL) and anonymous
    answers such as the sign-in page keep their own caching.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(settings.STATIC_URL)
        ):
            response["Cache-Control"] = "private, no-store"
            response["Pragma"] = "no-cache"
        return response
