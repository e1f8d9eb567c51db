"""API v1: clients (`/api/v1/clients/`).

Writes go through `clients.services` (create, update, archive, restore) with
`by=request.user`. Archiving is `PATCH {"archived": true}`; `false` restores.
`?search=` uses `clients.selectors.client_search`, the same search as the client list
and Create appointment, and (as the list) counts its matches no further than needed:
`count` above 1,000 means "more than 1,000" (see ClientPagination).
"""

from __future__ import annotations

from functools import partial

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status

from clients import services
from clients.models import Client
from clients.selectors import client_count, client_search, client_search_first_page
from kernel.api.fields import ColumnsOutSerializer, InputModelSerializer
from kernel.api.filters import InstantFilter, OrderingFilter, UpdatedSinceFilter
from kernel.api.pagination import PAGE_PARAMETERS, Pagination, PreparedPages
from kernel.api.viewsets import ApiViewSet
from kernel.pagination import COUNT_CAP, CappedPaginator, KnownCountPaginator


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Jo Citizen",
            value={
                "id": 42,
                "first_name": "Jo",
                "last_name": "Citizen",
                "email": "jo.citizen@example.com",
                "email_opt_out": False,
                "phone": "0412 345 678",
                "date_of_birth": "1986-07-14",
                "notes": "Prefers morning appointments.",
                "archived": False,
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class ClientOut(ColumnsOutSerializer):
    """A client of the practice."""

    # A plain string: the email may be blank, which "format: email" would not allow.
    email = serializers.CharField(read_only=True)

    class Meta:
        model = Client
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "email_opt_out",
            "phone",
            "date_of_birth",
            "notes",
            "archived",
            "updated_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Jo Citizen",
            value={
                "first_name": "Jo",
                "last_name": "Citizen",
                "email": "jo.citizen@example.com",
                "phone": "0412 345 678",
                "date_of_birth": "1986-07-14",
                "notes": "Prefers morning appointments.",
            },
        )
    ]
)
class ClientIn(InputModelSerializer):
    """A new client."""

    class Meta:
        model = Client
        fields = [
            "first_name",
            "last_name",
            "email",
            "email_opt_out",
            "phone",
            "date_of_birth",
            "notes",
        ]


@extend_schema_serializer(
    examples=[
        OpenApiExample("New phone number", value={"phone": "0498 765 432"}),
        OpenApiExample("Archive", value={"archived": True}),
    ]
)
class ClientEditIn(InputModelSerializer):
    """The client's fields to change; fields left out stay as they are."""

    archived = serializers.BooleanField(
        required=False, help_text="true archives the client, false restores them."
    )

    class Meta:
        model = Client
        fields = [
            "first_name",
            "last_name",
            "email",
            "email_opt_out",
            "phone",
            "date_of_birth",
            "notes",
            "archived",
        ]
        extra_kwargs = {name: {"required": False} for name in fields}


SEARCH_MAX = 200  # characters of `?search=`


class ClientFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=SEARCH_MAX,
        label=(
            "Words found in the name, email or phone. With a search, `count` stops at "
            f"{COUNT_CAP + 1:,} (meaning more than {COUNT_CAP:,} matches; further pages "
            "count on as far as they reach, and `next` is always right)."
        ),
    )
    archived = django_filters.BooleanFilter()
    created_after = InstantFilter(
        field_name="created_at", lookup_expr="gte", label="Clients added at or after this moment."
    )
    created_before = InstantFilter(
        field_name="created_at", lookup_expr="lt", label="Clients added before this moment."
    )
    updated_since = UpdatedSinceFilter()
    ordering = OrderingFilter(
        fields=["last_name", "first_name", "email", "created_at", "updated_at", "id"]
    )

    class Meta:
        model = Client
        fields = ["search", "archived", "created_after", "created_before", "updated_since"]

    def filter_search(self, queryset, name, value):
        # The selector's queryset itself (current and archived clients), not a subquery of
        # it: its order is what keeps a rare name or an email fast (see client_search).
        return client_search(value.split()[:10], archived=None)


class ClientPagination(Pagination):
    """With `?search=`, the count stops at 1,000 (or as far as the page asked for reaches)
    like the client list's: counting every client matching one letter costs 50 to 300 ms
    at 100,000 clients. Without a search, `count` is exact; unfiltered, it is the count
    the database keeps (`client_count`), not a count of every client."""

    UNFILTERED = {"page", "page_size", "ordering"}

    def paginate_queryset(self, queryset, request, view=None):
        if request.query_params.get("search", "").strip():
            number = request.query_params.get(self.page_query_param)
            self.django_paginator_class = partial(CappedPaginator, number=number)
        elif (
            getattr(view, "action", None) == "list" and set(request.query_params) <= self.UNFILTERED
        ):
            self.django_paginator_class = partial(KnownCountPaginator, count=client_count())
        return super().paginate_queryset(queryset, request, view)


class ClientReadsLogged:
    """For API viewsets whose rows belong to one client's record (appointments carry notes,
    client packages their treatments): each row returned, alone or on a page of a list,
    is access-logged as a read of its client's record, marked "api", as on the pages."""

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        services.client_accesses_record(
            client_ids=[response.data["client"]], request=request, via="api"
        )
        return response

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None and self.action == "list":
            services.client_accesses_record(
                client_ids=[row.client_id for row in page],
                request=self.request,
                via="api",
            )
        return page


class _SearchFirstPage(list):
    """The first page of a search's clients, read with its capped count in one statement
    (`client_search_first_page`), as CappedPaginator reads a search's queryset."""

    known_capped_count: tuple[int, int]


def _search_first_page(request, per_page: int) -> _SearchFirstPage | None:
    """`?search=` alone on its first page: the page and its count in one statement, the
    matches read once (the queryset's way reads them twice, to count then to sort). None
    for any other request (another page, a filter, an order, a search the statement does
    not serve), which goes the filterset's way, its checks included."""
    value = request.query_params.get("search", "")
    if request.query_params.get("page", "1") not in ("", "1") or len(value) > SEARCH_MAX:
        return None
    if "\x00" in value:  # refused by the filterset's field, beside `search`
        return None
    found = client_search_first_page(value.split()[:10], archived=None, per_page=per_page)
    if found is None:
        return None
    rows, count, cap = found
    page = _SearchFirstPage(rows)
    page.known_capped_count = (count, cap)
    return page


# The list unfiltered, in its default order: each page's SQL built once.
CLIENT_LIST_ORDER = ("last_name", "first_name", "id")
UNFILTERED_PAGES = PreparedPages(lambda: Client.objects.order_by(*CLIENT_LIST_ORDER))


@extend_schema_view(
    list=extend_schema(
        summary="List clients",
        description="The practice's clients, by last name. `search` finds words in the name, email or phone; `archived`, `updated_since` and `created_after`/`created_before` narrow the list.",
        responses=ClientOut,
    ),
    retrieve=extend_schema(
        summary="Get a client", description="One client's details.", responses=ClientOut
    ),
    create=extend_schema(
        summary="Create a client",
        description="Adds a client. First and last names are required; the email, phone and date of birth are checked as on the client form.",
        request=ClientIn,
        responses=ClientOut,
    ),
    partial_update=extend_schema(
        summary='Change a client (archive with {"archived": true})',
        description='Changes the fields you send; the others stay as they are. `{"archived": true}` archives the client (they no longer appear in searches for new bookings), `false` restores them.',
        request=ClientEditIn,
        responses=ClientOut,
    ),
)
class ClientViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Every client record the API returns (one, or each one on a page of the list) is
    access-logged like a viewing on the staff pages, marked "api"."""

    queryset = Client.objects.order_by(*CLIENT_LIST_ORDER)
    filterset_class = ClientFilter
    serializer_class = ClientOut
    pagination_class = ClientPagination

    def list(self, request, *args, **kwargs):
        clients: PreparedPages | QuerySet | _SearchFirstPage | None = None
        if request.query_params.keys() <= PAGE_PARAMETERS:
            clients = UNFILTERED_PAGES
        elif request.query_params.keys() <= PAGE_PARAMETERS | {"search"}:
            clients = _search_first_page(request, self.paginator.get_page_size(request))
        if clients is None:
            clients = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(clients)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        client = self.get_object()
        services.client_access_record(client=client, request=request, via="api")
        return self.respond(ClientOut, client)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None and self.action == "list":
            services.client_accesses_record(
                client_ids=[client.pk for client in page], request=self.request, via="api"
            )
        return page

    def create(self, request):
        data = self.validated(ClientIn)
        client = services.client_create(**data, by=request.user)
        return self.respond(ClientOut, client, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        client = self.get_object()
        data = self.validated(ClientEditIn)
        archived = data.pop("archived", None)
        if data:
            services.client_update(client=client, **data, by=request.user)
        if archived is True and not client.archived:
            services.client_archive(client=client, by=request.user)
        elif archived is False and client.archived:
            services.client_restore(client=client, by=request.user)
        return self.respond(ClientOut, Client.objects.get(pk=client.pk))
