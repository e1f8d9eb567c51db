"""One exception handler: every refusal becomes a JSON answer (409 for a business rule, 403, 400, 404, 415, 503)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from kernel.errors import DomainError, NotAllowed

logger = logging.getLogger("kernel.api")


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
