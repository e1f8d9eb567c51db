import logging

import pghistory
from django.contrib.messages import get_messages
from django.core.handlers.wsgi import WSGIRequest as DjangoWSGIRequest
from django.db import InterfaceError, OperationalError, connection, connections
from django.http import JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from pghistory import runtime as pghistory_runtime
from pghistory.middleware import HistoryMiddleware
from pghistory.middleware import WSGIRequest as HistoryWSGIRequest

from kernel.audit import client_ip
from kernel.db.audit_context import TRANSACTION_CONTROL
from kernel.money import currency_scope
from kernel.web import FORM_KEY_FIELD

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


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class AuditContextMiddleware(HistoryMiddleware):
    """Attach who (user), where from (address, URL) and how (method) to every change made
    while serving the request; the audit triggers store it with each event.

    pghistory's middleware also follows the API's token authentication (DRF sets
    `request.user` inside the view).

    A GET (HEAD, OPTIONS) reads: its queries do not pass through pghistory's per-query
    wrapper. A cheap one looks at the first words of each statement and opens the
    request's context at the first write, if any (e.g. an API key's "last used" time), so
    even then the change is recorded with who and where.
    """

    def get_context(self, request):
        context = super().get_context(request)
        context["ip"] = client_ip(request)
        context["method"] = request.method
        api_key = getattr(request, "audit_api_key", None)
        if api_key:
            context["api_key"] = api_key
        return context

    def __call__(self, request):
        if request.method not in SAFE_METHODS:
            return super().__call__(request)
        if isinstance(request, DjangoWSGIRequest):
            # As pghistory's middleware: DRF's `request.user = ...` updates an open context.
            request.__class__ = HistoryWSGIRequest
        opener = _ContextAtFirstWrite(self, request)
        try:
            with connection.execute_wrapper(opener):
                return self.get_response(request)
        finally:
            opener.close()


class _ContextAtFirstWrite:
    # Statements pghistory never tags (reads, transaction control), by their first words.
    READS = pghistory_runtime.IGNORED_SQL_PREFIXES + TRANSACTION_CONTROL

    def __init__(self, middleware: AuditContextMiddleware, request):
        self.middleware = middleware
        self.request = request
        self.context: pghistory.context | None = None

    def __call__(self, execute, sql, params, many, context):
        if self.context is not None:
            return execute(sql, params, many, context)  # pghistory's wrapper tags it
        head = sql[:40] if isinstance(sql, str) else bytes(sql[:40]).decode(errors="replace")
        if head.lstrip().lower().startswith(self.READS):
            return execute(sql, params, many, context)
        self.context = pghistory.context(**self.middleware.get_context(self.request))
        self.context.__enter__()
        # pghistory's wrapper applies from the next statement; tag this one here.
        return pghistory_runtime._inject_history_context(execute, sql, params, many, context)

    def close(self) -> None:
        if self.context is not None:
            self.context.__exit__(None, None, None)
            self.context = None


class DatabaseUnavailableMiddleware:
    """A dropped database connection mid-request answers 503 with an honest message.

    "Nothing was saved" only when that is known: no COMMIT was sent during the request
    (the transaction it was in is rolled back by PostgreSQL, nothing half-written). When
    the connection broke during COMMIT, or after a change had been committed, the outcome
    is unknown: the answer says so and how to check (the API: retry with the same
    Idempotency-Key, which replays a saved change; the pages: open the page again, or
    send the same form again, whose key makes that safe). The backend (kernel/db/) tells
    the cases apart. The broken connection is discarded so the retry opens a new one.
    """

    MESSAGE = "The connection to the database was lost. Nothing was saved; please try again."
    UNKNOWN = (
        "The connection to the database was lost while the change was being saved, so "
        "whether it was saved is unknown."
    )
    UNKNOWN_API_KEYED = (
        f"{UNKNOWN} Retry with the same Idempotency-Key: if the change was saved you get "
        "its answer again (Idempotent-Replayed: true), otherwise it is made now."
    )
    UNKNOWN_API = (
        f"{UNKNOWN} Read the resource to check before retrying; a POST sent with an "
        "Idempotency-Key can always be retried safely with the same key."
    )
    UNKNOWN_PAGE_KEYED = (
        f"{UNKNOWN} Sending the same form again is safe: if it was saved, you see the "
        "result and it is not saved twice. Or open the page again to check."
    )
    UNKNOWN_PAGE = (
        f"{UNKNOWN} Open the page again (the client's appointments, the invoice) and "
        "check before trying again."
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for conn in connections.all(initialized_only=True):
            if hasattr(conn, "forget_commits"):
                conn.forget_commits()
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning(
            "Database unavailable during %s %s: %s", request.method, request.path, exception
        )
        outcome_known = True
        for conn in connections.all(initialized_only=True):
            if getattr(conn, "commit_in_doubt", False) or (
                request.method not in ("GET", "HEAD", "OPTIONS")
                and getattr(conn, "commits_done", 0)
            ):
                outcome_known = False
            conn.close_if_unusable_or_obsolete()
            if conn.connection is not None and not conn.is_usable():
                conn.close()
        api = request.path.startswith("/api/")
        if outcome_known:
            message, code = self.MESSAGE, "database_unavailable"
        elif api:
            keyed = "Idempotency-Key" in request.headers
            message = self.UNKNOWN_API_KEYED if keyed else self.UNKNOWN_API
            code = "outcome_unknown"
        else:
            keyed = bool(request.POST.get(FORM_KEY_FIELD)) if request.method == "POST" else False
            message = self.UNKNOWN_PAGE_KEYED if keyed else self.UNKNOWN_PAGE
            code = "outcome_unknown"
        if api:
            return JsonResponse({"detail": message, "code": code}, status=503)
        return render(request, "503.html", {"message": message, "code": code}, status=503)


class CurrencyMiddleware:
    """Amounts on a page read the practice's currency once per request, not per amount."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with currency_scope():
            return self.get_response(request)
