"""One exception handler: every refusal becomes a JSON answer (409 for a business rule, 403, 400, 404, 415, 503).

A service's `DomainError` is one of two kinds (API.md, Errors):

- invalid input: a value the service cannot take whatever the data (out of range, too
  long, malformed, a total beyond what an invoice holds). 400 `{"field": ["message"]}`,
  like a serializer's errors; `non_field_errors` when the service named no field. These
  are the codes `invalid_*` and `INPUT_CODES`.
- a business rule's refusal, which depends on the current data (no credits left, not a
  draft, a name already taken...): 409 `{"detail", "code"}`.

A view names its input fields differently from the services with `error_fields` (a
service's field -> the request's field), e.g. an invoice line's `unit_price` -> `lines`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from kernel.errors import DomainError, NotAllowed

logger = logging.getLogger("kernel.api")


# Refusals of a value itself (besides every `invalid_*` code): 400 by field, not 409.
INPUT_CODES = frozenset(
    {
        "name_required",
        "name_too_long",
        "too_long",
        "value_too_long",
        "reason_required",
        "service_required",
        "package_has_no_services",
        "quantities_mismatch",
        "invoice_total_too_large",
    }
)


def is_invalid_input(error: DomainError) -> bool:
    """Whether `error` refuses the input itself (400) rather than the action (409)."""
    return error.code.startswith("invalid_") or error.code in INPUT_CODES


def _input_refusal(error: DomainError, context: dict) -> Response:
    names = getattr(context.get("view"), "error_fields", {})
    field = names.get(error.field, error.field) if error.field else None
    return Response(
        {field or api_settings.NON_FIELD_ERRORS_KEY: [error.message]},
        status=status.HTTP_400_BAD_REQUEST,
    )


def _with_code(data: Any, exc: exceptions.APIException) -> Any:
    if isinstance(data, dict) and "detail" in data and "code" not in data:
        codes = exc.get_codes()
        data["code"] = codes if isinstance(codes, str) else exc.default_code
    return data


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Turn every refusal into the response API.md promises (see the module docstring)."""
    if isinstance(exc, NotAllowed):
        return Response(
            {"detail": exc.message, "code": "permission_denied"}, status=status.HTTP_403_FORBIDDEN
        )
    if isinstance(exc, DomainError) and is_invalid_input(exc):
        return _input_refusal(exc, context)
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        invoice = exc.context.get("invoice")
        if invoice is not None and getattr(invoice, "pk", None) is not None:
            # "already invoiced" and friends: tell the integrator which invoice it is.
            body["invoice"] = invoice.pk
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=serializers.as_serializer_error(exc))
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = exceptions.ParseError("The request body is too large.")

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if not isinstance(detail, dict):
            detail = {
                api_settings.NON_FIELD_ERRORS_KEY: detail if isinstance(detail, list) else [detail]
            }
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)

    if isinstance(exc, exceptions.APIException):
        response = drf_exception_handler(exc, context)
        if response is not None:
            response.data = _with_code(response.data, exc)
        return response

    # Safety nets. Input validation should make these unreachable; if one is reached the
    # request was still refused cleanly (its transaction rolled back), and the log says
    # which validation is missing.
    if isinstance(exc, DataError):
        logger.warning("API input reached the database unvalidated: %s", exc, exc_info=exc)
        return Response(
            {"detail": "A value is malformed or out of range.", "code": "invalid"},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, IntegrityError):
        logger.warning("API write hit a database constraint: %s", exc, exc_info=exc)
        return Response(
            {
                "detail": "The change conflicts with the current data; reload and try again.",
                "code": "conflict",
            },
            status=status.HTTP_409_CONFLICT,
        )
    return None


# ------------------------------------------------- Django's error views, under /api/
# Errors that happen outside DRF's handling (an unexpected exception, a 404 raised by a
# non-DRF view, a request Django refuses before any view) answer with Django's error
# views; under /api/ they answer JSON like every other API error (caspen/urls.py sets
# them as handler400/403/404/500). Elsewhere the pages' templates are used.

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _json_error(status_code: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


def bad_request(request, exception=None):
    if _is_api(request):
        return _json_error(400, "The request could not be read.", "bad_request")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return _json_error(403, "You do not have permission to do that.", "permission_denied")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return _json_error(404, "Not found.", "not_found")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return _json_error(
            500,
            "Something went wrong on our side (the error is logged). If you were changing "
            "something, check whether the change was made before trying again.",
            "server_error",
        )
    return defaults.server_error(request)


def api_method_not_allowed(view, allowed: tuple[str, ...] = ("GET", "HEAD", "OPTIONS")):
    """Wrap a read-only view that is not an ApiViewSet (the schema, the docs) so that any
    other method gets the API's JSON 405 rather than the view's own format."""

    def wrapped(request, *args, **kwargs):
        if request.method not in allowed:
            response = _json_error(
                405, f'Method "{request.method}" not allowed.', "method_not_allowed"
            )
            response["Allow"] = ", ".join(allowed)
            return response
        return view(request, *args, **kwargs)

    wrapped.__name__ = getattr(view, "__name__", "view")
    # The API's views check CSRF themselves (DRF, for session users only).
    wrapped.csrf_exempt = getattr(view, "csrf_exempt", False)  # type: ignore[attr-defined]
    return wrapped
