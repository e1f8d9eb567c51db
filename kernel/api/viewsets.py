"""The base viewset of every `/api/v1/` resource, and the read-only reference lists."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from kernel.api.filters import FilterBackend, OrderingFilter, UpdatedSinceFilter
from kernel.api.idempotency import (
    _Replay,
    idempotency_claim,
    idempotency_finish,
    idempotency_key,
)
from kernel.api.pagination import Pagination
from kernel.api.parsing import CaspenJSONParser, JSONOnlyNegotiation
from kernel.api.permissions import RolePermission
from kernel.api.throttling import UserThrottle


class ApiViewSet(GenericViewSet):
    """Base of every `/api/v1/` viewset.

    Adds to DRF's dispatch one transaction around a writing view (so several service
    calls are all or nothing, and a refused request leaves nothing behind; a GET needs
    none, see `dispatch`) and, for a POST with an
    Idempotency-Key, the key's claim and its stored answer in that same transaction
    (kernel/idempotency.py): key, work and answer commit together or not at all.
    """

    # Any id-like segment reaches the view (and gets a JSON 404), not Django's 404 page.
    lookup_value_regex = "[^/]+"
    permission_classes = [RolePermission]
    parser_classes = [CaspenJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation
    pagination_class = Pagination
    filter_backends = [FilterBackend]
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
        try:
            # Authentication, permissions and throttling come first, outside the
            # transaction.
            self.initial(request, *args, **kwargs)
            key = idempotency_key(request)
        except Exception as exc:
            self.response = self.finalize_response(request, self.handle_exception(exc))
            return self.response
        method = request.method.lower()
        handler = getattr(self, method, None) if method in self.http_method_names else None
        handler = handler or self.http_method_not_allowed
        if request.method in SAFE_METHODS:
            # A read needs no transaction of its own: each of its statements reads a
            # committed snapshot anyway (READ COMMITTED), and its only write, the access
            # log of the client records it returns, is one statement, atomic and durable
            # by itself. No BEGIN and COMMIT round trips on every GET.
            try:
                response = handler(request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)
            self.response = self.finalize_response(request, response, *args, **kwargs)
            return self.response
        # A database failure (a lost connection, COMMIT included) leaves this block as an
        # exception: kernel.middleware.DatabaseUnavailableMiddleware answers 503.
        with transaction.atomic():
            claimed = None
            try:
                if key is not None:
                    # Waits here while a concurrent request holds the same key.
                    claimed = idempotency_claim(request, key)
                # With a key, a savepoint: a refused request keeps its key and answer
                # but none of its work.
                with transaction.atomic(savepoint=claimed is not None):
                    response = handler(request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)
            self.response = self.finalize_response(request, response, *args, **kwargs)
            if claimed is not None:
                idempotency_finish(claimed, self.response)
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


class ReferenceFilter(django_filters.FilterSet):
    """`?search=` on the name, `?archived=`, `?updated_since=`, `?ordering=`."""

    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, label="Part of the name."
    )
    archived = django_filters.BooleanFilter()
    updated_since = UpdatedSinceFilter()
    ordering = OrderingFilter(fields=["name", "updated_at", "id"])


def reference_filter(model_class) -> type[django_filters.FilterSet]:
    meta = type(
        "Meta", (), {"model": model_class, "fields": ["search", "archived", "updated_since"]}
    )
    return type(f"{model_class.__name__}Filter", (ReferenceFilter,), {"Meta": meta})


class ReferenceViewSet(mixins.ListModelMixin, ApiViewSet):
    """The practice's lists (locations, practitioners, services, tax rates, payment
    methods, cancellation reasons, catalog packages): everyone reads them, Admin adds to
    them. Subclasses name the input's serializer and the service function that adds a
    row (given the user who asks)."""

    input_serializer: type[serializers.Serializer]
    create_with: Any

    def create(self, request):
        data = self.validated(self.input_serializer)
        instance = self.perform_reference_create(data)
        return self.respond(self.serializer_class, instance, status.HTTP_201_CREATED)

    def perform_reference_create(self, data: dict[str, Any]):
        return type(self).create_with(**data, by=self.request.user)


LIST_DESCRIPTION = (
    "Everyone with an API key may read it. Archived rows are included unless you filter "
    "with `archived=false`; `search` finds a part of the name; `updated_since` gives only "
    "the rows created or changed since then."
)


def reference_schema(noun: str, output, input_serializer, *, examples=()):
    """The schema of a reference list's operations."""
    return extend_schema_view(
        list=extend_schema(
            summary=f"List {noun}",
            description=f"The practice's {noun}, by name. {LIST_DESCRIPTION}",
            responses=output,
        ),
        create=extend_schema(
            summary=f"Add to {noun} (Admin)",
            description=(
                f"Adds one to the practice's {noun}, with the same checks as the Settings "
                "pages. Admin only. A refused value answers 400 by field; a rule's "
                "refusal (for example a name already used: `name_taken`) answers 409."
            ),
            request=input_serializer,
            responses=output,
            examples=list(examples),
        ),
    )
