"""The REST API's framework pieces: one exception handler, pagination, role permissions,
throttling, idempotency and the base viewset every resource of `/api/v1/` builds on.

The API is one more thin delivery layer over the services (like the pages and the
admin): viewsets validate input with an input serializer, call the service with
`by=request.user`, and render the result with an output serializer. Refusals travel as
exceptions and become responses here, in one place:

- `DomainError` (a business rule refused) → 409 `{"detail", "code"}`;
  `NotAllowed` (the role may not) → 403 with code `permission_denied`;
- invalid input → 400 `{"field": ["message"]}`; unknown ids → 404;
- malformed JSON, too deep or too large bodies → 400; other media types → 415.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

import django_filters
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, models, transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.viewsets import GenericViewSet

from caspen.errors import DomainError, NotAllowed
from caspen.forms import TEXT_MAX_LENGTH, missing_local_time
from caspen.models import IdempotencyKey, IdempotencyKeyState

logger = logging.getLogger("caspen.api")

# Input dates and times outside these years are refused (400): far-away dates are typing
# mistakes, and adding an expiry period to 9999-12-31 would overflow.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2200


# ---------------------------------------------------------------- parsing and rendering


class CaspenJSONParser(JSONParser):
    """JSON, refusing (400) bodies nested so deeply that decoding them exhausts the stack."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                "JSON parse error - the body is nested too deeply."
            ) from None


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """The API speaks JSON only: answer in JSON whatever `Accept` says (never 406)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


# ---------------------------------------------------------------------------- errors


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


# ------------------------------------------------------------------------ pagination


class Pagination(PageNumberPagination):
    """`?page=` and `?page_size=` (default 50, at most 200)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


# ----------------------------------------------------------------------- permissions


class RolePermission(DjangoModelPermissions):
    """The user's role (Django groups and their model permissions) decides.

    Reading needs the model's `view_` permission, writing its `add_`/`change_`/`delete_`
    permission; actions name theirs in the viewset's `action_permissions`. Anonymous
    requests get 401. Services check their permission again (NotAllowed → 403), so the
    rule book stays in one place even where this check is coarser.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        action_perms = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if action_perms is not None:
            return user.has_perms(action_perms)
        return super().has_permission(request, view)


# ------------------------------------------------------------------------ throttling


class UserThrottle(UserRateThrottle):
    """Requests per user (API_THROTTLE_USER, e.g. "1000/min"), so one integrator cannot
    starve the clinic. The rate is read on each request, so tests can change it."""

    scope = "user"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


# ----------------------------------------------------------------------- idempotency

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_MAX_LENGTH = 255
# A stored response is replayed for this long; `clear_idempotency_keys` removes older rows.
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
# A request still "in flight" after this long died with its process (no request runs
# this long); its key may then be used again rather than answering 409 for a whole day.
IDEMPOTENCY_ABANDONED_AFTER = dt.timedelta(minutes=10)
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for a different request. "
        "Use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


class IdempotencyInFlight(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "A request with this Idempotency-Key is still being processed. Retry in a moment."
    )
    default_code = "idempotency_in_flight"


class _Replay(Exception):
    """Raised to answer with the stored response of an earlier request with the same key."""

    def __init__(self, stored: IdempotencyKey) -> None:
        super().__init__(stored.key)
        self.stored = stored

    def response(self) -> HttpResponse:
        response = HttpResponse(
            self.stored.response_body.encode(),
            status=self.stored.response_status,
            content_type=self.stored.response_content_type or "application/json",
        )
        response[REPLAYED_HEADER] = "true"
        return response


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\n")
    digest.update(request.get_full_path().encode())
    digest.update(b"\n")
    try:
        digest.update(request._request.body)
    except RawPostDataException:
        digest.update(repr(request.data).encode())
    return digest.hexdigest()


def _valid_key(raw: str) -> bool:
    return 1 <= len(raw) <= IDEMPOTENCY_MAX_LENGTH and all(" " <= ch <= "~" for ch in raw)


def idempotency_begin(request) -> IdempotencyKey | None:
    """Claim the request's Idempotency-Key (POST only) before the view runs.

    The claim is its own transaction, committed at once, so a concurrent request with
    the same key sees it: the unique constraint on (user, key) serializes them across
    processes. Raises `_Replay` for a retry of a finished request, 422 for the key used
    with another request, 409 while the first request is still running.
    """
    raw = request.headers.get(IDEMPOTENCY_HEADER)
    if raw is None or request.method != "POST" or not request.user.is_authenticated:
        return None
    if not _valid_key(raw):
        raise exceptions.ValidationError(
            {
                IDEMPOTENCY_HEADER: [
                    f"Use 1 to {IDEMPOTENCY_MAX_LENGTH} printable ASCII characters, such as a UUID."
                ]
            }
        )
    fingerprint = _fingerprint(request)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=request.user, key=raw, fingerprint=fingerprint
                )
        except IntegrityError:
            pass
        stored = IdempotencyKey.objects.filter(user=request.user, key=raw).first()
        if stored is None:
            continue  # removed in the meantime: claim it again
        now = timezone.now()
        expired = stored.created_at < now - IDEMPOTENCY_TTL
        abandoned = (
            stored.state == IdempotencyKeyState.IN_FLIGHT
            and stored.created_at < now - IDEMPOTENCY_ABANDONED_AFTER
        )
        if expired or abandoned:
            # Only the request that removes this very row may claim the key next.
            IdempotencyKey.objects.filter(pk=stored.pk, created_at=stored.created_at).delete()
            continue
        if stored.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if stored.state == IdempotencyKeyState.IN_FLIGHT:
            raise IdempotencyInFlight()
        raise _Replay(stored)
    raise IdempotencyInFlight()


def idempotency_finish(claim: IdempotencyKey, response) -> None:
    """Store the response for replay, or free the key after a server error (so the
    client's retry runs again)."""
    if response.status_code >= 500:
        idempotency_abandon(claim)
        return
    if hasattr(response, "render"):
        response.render()
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        state=IdempotencyKeyState.DONE,
        response_status=response.status_code,
        response_body=response.content.decode("utf-8", errors="replace"),
        response_content_type=response.get("Content-Type", "application/json")[:100],
    )


def idempotency_abandon(claim: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=claim.pk).delete()


def clear_expired_idempotency_keys(now: dt.datetime | None = None) -> int:
    """Delete stored keys older than the replay window; returns how many."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# ------------------------------------------------------------------------- base view


class ApiViewSet(GenericViewSet):
    """Base of every `/api/v1/` viewset.

    Adds to DRF's dispatch: the Idempotency-Key claim (after authentication,
    permissions and throttling, before the view), one transaction around the view (so
    several service calls are all or nothing, and a refused request leaves nothing
    behind), and storing the response for replays.
    """

    # Any id-like segment reaches the view (and gets a JSON 404), not Django's 404 page.
    lookup_value_regex = "[^/]+"
    permission_classes = [RolePermission]
    parser_classes = [CaspenJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation
    pagination_class = Pagination
    filter_backends = [DjangoFilterBackend]
    throttle_classes = [UserThrottle]
    # {action name: permissions it needs}; actions not listed use the model permission
    # of their HTTP method.
    action_permissions: dict[str, tuple[str, ...]] = {}

    def dispatch(self, request, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        claim = None
        try:
            try:
                self.initial(request, *args, **kwargs)
                claim = idempotency_begin(request)
                method = request.method.lower()
                if method in self.http_method_names:
                    handler = getattr(self, method, self.http_method_not_allowed)
                else:
                    handler = self.http_method_not_allowed
                with transaction.atomic():
                    response = handler(request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)
            self.response = self.finalize_response(request, response, *args, **kwargs)
        except BaseException:
            if claim is not None:
                idempotency_abandon(claim)
            raise
        if claim is not None:
            idempotency_finish(claim, self.response)
        return self.response

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response()
        return super().handle_exception(exc)

    # Helpers for the HackSoft-style views: validate with an input serializer, call the
    # service, answer with an output serializer.

    def validated(self, serializer_class, data=None, **kwargs) -> dict[str, Any]:
        serializer = serializer_class(
            data=self.request.data if data is None else data,
            context=self.get_serializer_context(),
            **kwargs,
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def respond(self, serializer_class, instance, status_code: int = status.HTTP_200_OK):
        return Response(
            serializer_class(instance, context=self.get_serializer_context()).data,
            status=status_code,
        )

    def respond_no_content(self):
        return Response(status=status.HTTP_204_NO_CONTENT)

    def paginated(self, serializer_class, queryset):
        page = self.paginate_queryset(queryset)
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


def not_found(request, *args, **kwargs) -> HttpResponse:
    """Every unknown URL under /api/ answers in JSON, like the API's own 404s."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


# -------------------------------------------------------------------- input fields


class InputDate(serializers.DateField):
    """A date (YYYY-MM-DD) between EARLIEST_YEAR and LATEST_YEAR."""

    default_error_messages = {
        "out_of_range": f"Enter a date between {EARLIEST_YEAR} and {LATEST_YEAR}."
    }

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        if not EARLIEST_YEAR <= result.year <= LATEST_YEAR:
            self.fail("out_of_range")
        return result


class InputDateTime(serializers.DateTimeField):
    """An ISO 8601 date-time (without an offset: in the practice's time zone, where it
    must exist: not in the hour the clocks skip when daylight saving starts)."""

    default_error_messages = {
        "out_of_range": f"Enter a time between {EARLIEST_YEAR} and {LATEST_YEAR}."
    }

    def enforce_timezone(self, value):
        zone = getattr(self, "timezone", None) or self.default_timezone()
        if zone is not None and timezone.is_naive(value):
            # DRF moves a skipped time silently (it only refuses the hour that repeats).
            problem = missing_local_time(value, zone)
            if problem:
                raise serializers.ValidationError(problem, code="invalid")
        return super().enforce_timezone(value)

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        if not EARLIEST_YEAR <= result.year <= LATEST_YEAR:
            self.fail("out_of_range")
        return result


class InputModelSerializer(serializers.ModelSerializer):
    """A model serializer for input: the model's field rules, dates kept in range, free
    text (TextField) at most TEXT_MAX_LENGTH characters, as in the pages."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: InputDate,
        models.DateTimeField: InputDateTime,
    }

    def build_standard_field(self, field_name, model_field):
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if isinstance(model_field, models.TextField):
            field_kwargs.setdefault("max_length", TEXT_MAX_LENGTH)
        return field_class, field_kwargs


# --------------------------------------------------------------------------- schema


def _error_component(registry, name: str, schema: dict) -> dict:
    component = ResolvedComponent(
        name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=f"caspen.api.{name}"
    )
    registry.register_on_missing(component)
    return component.ref


ERROR_SCHEMA = {
    "type": "object",
    "description": "A refusal: a human message and a stable machine code.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "required": ["detail", "code"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'Invalid input: each field with its messages, e.g. {"email": ["Enter a valid email '
        'address."]}; nested fields nest by index ({"lines": {"1": {"quantity": [...]}}}). Input that cannot '
        'be read at all (malformed JSON) gives {"detail", "code"}.'
    ),
    "additionalProperties": {},
}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description=(
        "Makes the POST safe to retry (1-255 printable ASCII characters, e.g. a UUID). "
        "The first response for a key (per user) is stored for 24 hours and replayed "
        "for a retry with the same body (with the header `Idempotent-Replayed: true`); "
        "the same key with a different body gives 422; a retry while the first request "
        "is still running gives 409."
    ),
)

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input (each field with its messages), or a body that is not valid JSON.",
    "401": "Not signed in: send `Authorization: Token <key>` (or use the session).",
    "403": "Your role does not allow this.",
    "404": "No such object (or page).",
    "409": (
        "A business rule refused the action (e.g. `no_credits_left`, `invoice_not_draft`), "
        "or a request with the same Idempotency-Key is still running "
        "(`idempotency_in_flight`)."
    ),
    "415": "The body must be JSON (`Content-Type: application/json`).",
    "422": "The Idempotency-Key was already used for a different request.",
    "429": "Too many requests: wait the number of seconds in `Retry-After`.",
}


class CaspenAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus what every operation of this API shares: the
    Idempotency-Key header on POSTs and the documented error responses."""

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_PARAMETER)
        return parameters

    def _error_codes(self) -> list[str]:
        codes = ["401", "403", "404", "429"]
        has_body = self.method in ("POST", "PUT", "PATCH")
        has_query = any(p.get("in") == "query" for p in self._get_parameters())
        if has_body or has_query:
            codes.append("400")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("409")
        if has_body:
            codes.append("415")
        if self.method == "POST":
            codes.append("422")
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        error_ref = _error_component(self.registry, "Error", ERROR_SCHEMA)
        invalid_ref = _error_component(self.registry, "ValidationError", VALIDATION_ERROR_SCHEMA)
        for code in self._error_codes():
            if code in responses:
                continue
            schema = invalid_ref if code == "400" else error_ref
            response = self._get_response_for_code(
                OpenApiResponse(response=schema, description=_ERROR_DESCRIPTIONS[code]),
                code,
                media_types=["application/json"],
                direction=direction,
            )
            if code == "429":
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before the next request.",
                    }
                }
            responses[code] = response
        return responses


# ------------------------------------------------------------------- filtering


class OrderingFilter(django_filters.OrderingFilter):
    """`?ordering=name,-id`, always ending with the id so pages never overlap; empty
    values keep the default order."""

    def filter(self, qs, value):
        fields = [self.get_ordering_value(param) for param in value or () if param]
        if not fields:
            return qs
        if "id" not in fields and "-id" not in fields:
            fields.append("id")
        return qs.order_by(*fields)


# ------------------------------------------------------------------- reference data


class ReferenceFilter(django_filters.FilterSet):
    """`?search=` on the name, `?archived=`, `?ordering=`."""

    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, label="Part of the name."
    )
    archived = django_filters.BooleanFilter()
    ordering = OrderingFilter(fields=["name", "id"])


def reference_filter(model_class) -> type[django_filters.FilterSet]:
    meta = type("Meta", (), {"model": model_class, "fields": ["search", "archived"]})
    return type(f"{model_class.__name__}Filter", (ReferenceFilter,), {"Meta": meta})


class ReferenceViewSet(mixins.ListModelMixin, ApiViewSet):
    """The practice's lists (locations, practitioners, services, tax rates, payment
    methods, cancellation reasons, catalog packages): everyone reads them, Admin adds to
    them. `input_serializer` checks the shape of the input; `create_with` is the service
    that adds the row (called with the validated fields and `by=`).
    """

    input_serializer: type[serializers.Serializer]
    create_with: Any

    def create(self, request):
        data = self.validated(self.input_serializer)
        instance = self.perform_reference_create(data)
        return self.respond(self.serializer_class, instance, status.HTTP_201_CREATED)

    def perform_reference_create(self, data: dict[str, Any]):
        return type(self).create_with(**data, by=self.request.user)


def reference_schema(noun: str, output, input_serializer):
    """The schema of a reference list's operations."""
    return extend_schema_view(
        list=extend_schema(summary=f"List {noun}", responses=output),
        create=extend_schema(
            summary=f"Add to {noun} (Admin)", request=input_serializer, responses=output
        ),
    )
