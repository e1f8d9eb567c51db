import logging

from django.contrib.messages import get_messages
from django.db import InterfaceError, OperationalError, connections
from django.http import JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from pghistory.middleware import HistoryMiddleware

from kernel.audit import client_ip
from kernel.money import currency_scope

logger = logging.getLogger(__name__)


class HtmxMessagesMiddleware:
    """Deliver pending messages with HTMX responses as an out-of-band swap of #messages,
    so "Package created" shows after a popup closes just as after a full page load.

    A page that already rendered its messages has consumed them, so nothing is doubled.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            not getattr(request, "htmx", False)
            or response.streaming
            or 300 <= response.status_code < 400
            or "HX-Redirect" in response
            or "HX-Location" in response
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        pending = list(get_messages(request))
        if pending:
            html = render_to_string("includes/messages.html", {"messages": pending, "oob": True})
            response.content = response.content + html.encode()
        return response


class AuditContextMiddleware(HistoryMiddleware):
    """Attach who (user), where from (address, URL) and how (method) to every change made
    while serving the request; the audit triggers store it with each event.

    pghistory's middleware also follows the API's token authentication (DRF sets
    `request.user` inside the view).
    """

    def get_context(self, request):
        context = super().get_context(request)
        context["ip"] = client_ip(request)
        context["method"] = request.method
        return context


class DatabaseUnavailableMiddleware:
    """A dropped database connection mid-request answers 503 with a clear message.

    The transaction it was in is rolled back by PostgreSQL, so nothing was half-written;
    the broken connection is discarded so the next request (a retry) opens a new one.
    """

    MESSAGE = "The connection to the database was lost. Nothing was saved; please try again."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning(
            "Database unavailable during %s %s: %s", request.method, request.path, exception
        )
        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()
            if conn.connection is not None and not conn.is_usable():
                conn.close()
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": self.MESSAGE, "code": "database_unavailable"}, status=503
            )
        return render(request, "503.html", {"message": self.MESSAGE}, status=503)


class CurrencyMiddleware:
    """Amounts on a page read the practice's currency once per request, not per amount."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with currency_scope():
            return self.get_response(request)
