"""API v1: the catalog (`services/`, `tax-rates/`, `packages/`).

Everyone reads the catalog; only Admin adds to it. Writes go through `catalog.services`
(which hold the catalog's rules: a fixed package's allowances add up to its credits,
archived services cannot be sold, ...) with `by=request.user`.
"""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers

from catalog import services
from catalog.models import (
    MAX_CAPACITY,
    Package,
    PackageKind,
    PeriodUnit,
    Service,
    ServiceCategory,
    TaxRate,
)
from kernel.api.fields import InputModelSerializer
from kernel.api.filters import OrderingFilter, UpdatedSinceFilter
from kernel.api.viewsets import ReferenceViewSet, reference_filter, reference_schema

# ------------------------------------------------------------------------ tax rates


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "GST",
            value={
                "id": 2,
                "name": "GST",
                "rate": "10.00",
                "archived": False,
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class TaxRateOut(serializers.ModelSerializer):
    """A tax rate (e.g. GST 10%)."""

    class Meta:
        model = TaxRate
        fields = ["id", "name", "rate", "archived", "updated_at"]
        read_only_fields = fields


@extend_schema_serializer(examples=[OpenApiExample("GST", value={"name": "GST", "rate": "10.00"})])
class TaxRateIn(InputModelSerializer):
    """A new tax rate."""

    class Meta:
        model = TaxRate
        fields = ["name", "rate"]


@reference_schema("tax rates", TaxRateOut, TaxRateIn)
class TaxRateViewSet(ReferenceViewSet):
    queryset = TaxRate.objects.order_by("name", "id")
    serializer_class = TaxRateOut
    input_serializer = TaxRateIn
    filterset_class = reference_filter(TaxRate)
    create_with = services.tax_rate_create


# ------------------------------------------------------------------------- services


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Physio Follow-up",
            value={
                "id": 3,
                "name": "Physio Follow-up",
                "category": "Physiotherapy",
                "duration_minutes": 30,
                "price": "95.00",
                "tax_rate": 2,
                "capacity": 1,
                "archived": False,
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class ServiceOut(serializers.ModelSerializer):
    """A service the practice sells (an Initial Consultation, a 30-minute Massage...)."""

    category = serializers.CharField(
        source="category.name", allow_null=True, read_only=True, help_text="The category's name."
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "category",
            "duration_minutes",
            "price",
            "tax_rate",
            "capacity",
            "archived",
            "updated_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Physio Follow-up",
            value={
                "name": "Physio Follow-up",
                "category": "Physiotherapy",
                "duration_minutes": 30,
                "price": "95.00",
                "tax_rate": 2,
            },
        ),
        OpenApiExample(
            "Pilates class",
            value={
                "name": "Reformer Pilates",
                "category": "Classes",
                "duration_minutes": 50,
                "price": "35.00",
                "capacity": 8,
            },
        ),
    ]
)
class ServiceIn(InputModelSerializer):
    """A service's fields."""

    category = serializers.CharField(
        max_length=ServiceCategory._meta.get_field("name").max_length,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="The category's name; a new name creates the category.",
    )
    tax_rate = serializers.PrimaryKeyRelatedField(
        queryset=TaxRate.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Service
        fields = ["name", "category", "duration_minutes", "price", "tax_rate", "capacity"]
        extra_kwargs = {
            "capacity": {
                "help_text": "Clients per session: 1 (the default) is an ordinary "
                "appointment, more makes the service a class.",
                "min_value": 1,
                "max_value": MAX_CAPACITY,
            }
        }

    def validate_category(self, value: str | None) -> str | None:
        return (value or "").strip() or None


@extend_schema_serializer(
    examples=[
        OpenApiExample("New price", value={"price": "99.00"}),
        OpenApiExample("Archive", value={"archived": True}),
    ]
)
class ServiceEditIn(ServiceIn):
    """The service's fields to change; fields left out stay as they are."""

    archived = serializers.BooleanField(
        required=False, help_text="true archives the service (no new bookings), false restores it."
    )

    class Meta(ServiceIn.Meta):
        fields = [*ServiceIn.Meta.fields, "archived"]


@reference_schema("services", ServiceOut, ServiceIn)
@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a service", description="One service of the catalog.", responses=ServiceOut
    ),
    partial_update=extend_schema(
        summary="Change a service (Admin)",
        description=(
            "Changes the fields you send, with the same checks as the Catalog page; the "
            "others stay as they are. Appointments already booked keep their times and "
            'invoices keep their lines. `{"archived": true}` archives the service: refused '
            "with 409 while a package on sale includes it."
        ),
        request=ServiceEditIn,
        responses=ServiceOut,
    ),
)
class ServiceViewSet(mixins.RetrieveModelMixin, ReferenceViewSet):
    queryset = Service.objects.select_related("category").order_by("name", "id")
    serializer_class = ServiceOut
    input_serializer = ServiceIn
    filterset_class = reference_filter(Service)

    def perform_reference_create(self, data: dict[str, Any]) -> Service:
        name = data.pop("category", None)
        category = None
        if name:
            category = ServiceCategory.objects.filter(name__iexact=name).first()
            if category is None:
                category = services.category_create(name=name, by=self.request.user)
        # The schema marks the duration optional (the model's default), so honour it.
        data.setdefault("duration_minutes", Service._meta.get_field("duration_minutes").default)
        service = services.service_create(category=category, **data, by=self.request.user)
        return Service.objects.select_related("category").get(pk=service.pk)

    def _category(self, name: str | None) -> ServiceCategory | None:
        if not name:
            return None
        category = ServiceCategory.objects.filter(name__iexact=name).first()
        return category or services.category_create(name=name, by=self.request.user)

    def partial_update(self, request, pk=None):
        service = self.get_object()
        data = self.validated(ServiceEditIn, partial=True)
        archived = data.pop("archived", None)
        if data:
            category = (
                self._category(data.pop("category")) if "category" in data else service.category
            )
            current = {
                "name": service.name,
                "duration_minutes": service.duration_minutes,
                "price": service.price,
                "tax_rate": service.tax_rate,
                "capacity": service.capacity,
            }
            services.service_update(
                service=service, category=category, **{**current, **data}, by=request.user
            )
        if archived is True and not service.archived:
            services.service_archive(service=service, by=request.user)
        elif archived is False and service.archived:
            services.service_restore(service=service, by=request.user)
        return self.respond(
            ServiceOut, Service.objects.select_related("category").get(pk=service.pk)
        )


# ------------------------------------------------------------------------- packages


class ExpiresAfter(serializers.Serializer):
    """How long a sold package can be used: a number of days, weeks, months or years from its start date."""

    value = serializers.IntegerField(min_value=1, max_value=1000)
    unit = serializers.ChoiceField(choices=PeriodUnit.choices)


class PackageServiceOut(serializers.Serializer):
    """A service a package covers, with its allowance in a fixed package."""

    service = serializers.IntegerField(source="service_id")
    allowance = serializers.IntegerField(
        allow_null=True, help_text="Uses of this service (fixed packages); null when flexible."
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Physio Starter Pack",
            value={
                "id": 7,
                "name": "Physio Starter Pack",
                "description": "Five follow-up sessions, used within six months.",
                "kind": "flexible",
                "credits": 5,
                "price": "450.00",
                "tax_rate": 2,
                "expires_after": {"value": 6, "unit": "months"},
                "services": [{"service": 3, "allowance": None}, {"service": 4, "allowance": None}],
                "archived": False,
                "updated_at": "2026-03-02T10:15:00+11:00",
            },
        )
    ]
)
class PackageOut(serializers.ModelSerializer):
    """A package in the catalog: credits for services, sold at one price."""

    expires_after = serializers.SerializerMethodField()
    services = PackageServiceOut(source="package_services", many=True)

    class Meta:
        model = Package
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "credits",
            "price",
            "tax_rate",
            "expires_after",
            "services",
            "archived",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ExpiresAfter(allow_null=True))
    def get_expires_after(self, package: Package) -> dict[str, Any] | None:
        if not package.expires:
            return None
        return {"value": package.expires_after_value, "unit": package.expires_after_unit}


class PackageServiceIn(serializers.Serializer):
    """A service the package covers; `allowance` only for a fixed package."""

    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all())
    allowance = serializers.IntegerField(
        min_value=1, max_value=1000, required=False, allow_null=True
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Physio Starter Pack (flexible)",
            value={
                "name": "Physio Starter Pack",
                "description": "Five follow-up sessions, used within six months.",
                "kind": "flexible",
                "credits": 5,
                "price": "450.00",
                "tax_rate": 2,
                "expires_after": {"value": 6, "unit": "months"},
                "services": [{"service": 3}, {"service": 4}],
            },
        ),
        OpenApiExample(
            "Rehab Bundle (fixed)",
            value={
                "name": "Rehab Bundle",
                "kind": "fixed",
                "credits": 4,
                "price": "420.00",
                "services": [{"service": 2, "allowance": 1}, {"service": 3, "allowance": 3}],
            },
        ),
    ]
)
class PackageIn(InputModelSerializer):
    """A catalog package's fields."""

    tax_rate = serializers.PrimaryKeyRelatedField(
        queryset=TaxRate.objects.all(), required=False, allow_null=True
    )
    expires_after = ExpiresAfter(
        required=False, allow_null=True, help_text="null (the default): never expires."
    )
    services = PackageServiceIn(many=True, allow_empty=False)

    class Meta:
        model = Package
        fields = [
            "name",
            "description",
            "kind",
            "credits",
            "price",
            "tax_rate",
            "expires_after",
            "services",
        ]

    def validate_services(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any("service" not in row for row in rows):
            # A change (PATCH) checks its rows as partial too: a row still needs its
            # service, since the list sent replaces the package's.
            raise serializers.ValidationError(
                [
                    {} if "service" in row else {"service": ["This field is required."]}
                    for row in rows
                ]
            )
        ids = [row["service"].pk for row in rows]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Include each service once.")
        return rows

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The allowances' rules (each at least 1, adding up to the credits) are the
        # catalog service's; a flexible package given allowances is a contradiction in
        # the request itself.
        if attrs.get("kind", PackageKind.FLEXIBLE) == PackageKind.FLEXIBLE and any(
            row.get("allowance") is not None for row in attrs["services"]
        ):
            raise serializers.ValidationError(
                {
                    "services": [
                        "A flexible package shares its credits: leave the allowances out "
                        '(null), or make it "fixed".'
                    ]
                }
            )
        return attrs


class PackageFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, label="Part of the name."
    )
    archived = django_filters.BooleanFilter()
    kind = django_filters.ChoiceFilter(choices=PackageKind.choices)
    updated_since = UpdatedSinceFilter()
    ordering = OrderingFilter(fields=["name", "price", "created_at", "updated_at", "id"])

    class Meta:
        model = Package
        fields = ["search", "archived", "kind", "updated_since"]


@extend_schema_serializer(
    examples=[
        OpenApiExample("New price", value={"price": "470.00"}),
        OpenApiExample("Take off sale", value={"archived": True}),
    ]
)
class PackageEditIn(PackageIn):
    """The package's fields to change; fields left out stay as they are. Packages
    already sold to clients never change."""

    archived = serializers.BooleanField(
        required=False, help_text="true takes the package off sale, false puts it back."
    )

    class Meta(PackageIn.Meta):
        fields = [*PackageIn.Meta.fields, "archived"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        package = self.context["package"]
        kind = attrs.get("kind", package.kind)
        if "services" in attrs:
            return super().validate({**attrs, "kind": kind})
        return attrs


@extend_schema_view(
    list=extend_schema(
        summary="List catalog packages",
        description="The packages the practice sells, by name. Filter by `kind`, `archived`, `search` or `updated_since`.",
        responses=PackageOut,
    ),
    retrieve=extend_schema(
        summary="Get a catalog package",
        description="One package of the catalog, with the services it covers.",
        responses=PackageOut,
    ),
    partial_update=extend_schema(
        summary="Change a catalog package (Admin)",
        description=(
            "Changes the fields you send, with the same checks as the Catalog page; the "
            "others stay as they are. `services`, when sent, replaces the list. Packages "
            "already sold keep what was sold: only new sales get the change. "
            '`{"archived": true}` takes it off sale.'
        ),
        request=PackageEditIn,
        responses=PackageOut,
    ),
    create=extend_schema(
        summary="Add a package to the catalog (Admin)",
        description="Adds a package to the catalog, with the same checks as the Catalog page. A fixed package's allowances must add up to its credits; a flexible package shares its credits across its services. Admin only.",
        request=PackageIn,
        responses=PackageOut,
    ),
)
class PackageViewSet(mixins.RetrieveModelMixin, ReferenceViewSet):
    queryset = Package.objects.prefetch_related("package_services").order_by("name", "id")
    serializer_class = PackageOut
    input_serializer = PackageIn
    filterset_class = PackageFilter
    # The services' field names -> this API's (kernel.api.errors).
    error_fields = {
        "define_quantities": "services",
        "expires_after_value": "expires_after",
        "expires_after_unit": "expires_after",
    }

    def perform_reference_create(self, data: dict[str, Any]) -> Package:
        rows = data.pop("services")
        expires_after = data.pop("expires_after", None)
        fixed = data.pop("kind", PackageKind.FLEXIBLE) == PackageKind.FIXED
        package = services.package_create(
            **data,
            services=[row["service"] for row in rows],
            quantities={row["service"]: row.get("allowance") for row in rows} if fixed else None,
            expires_after=(expires_after["value"], expires_after["unit"])
            if expires_after
            else None,
            by=self.request.user,
        )
        return Package.objects.prefetch_related("package_services").get(pk=package.pk)

    def partial_update(self, request, pk=None):
        package = self.get_object()
        context = {**self.get_serializer_context(), "package": package}
        serializer = PackageEditIn(data=request.data, context=context, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        archived = data.pop("archived", None)
        if data:
            kind = data.pop("kind", package.kind)
            if "services" in data:
                rows = [(row["service"], row.get("allowance")) for row in data.pop("services")]
            else:
                rows = [
                    (row.service, row.allowance)
                    for row in package.package_services.select_related("service")
                ]
            if "expires_after" in data:
                after = data.pop("expires_after")
                expires_after = (after["value"], after["unit"]) if after else None
            elif package.expires:
                expires_after = (package.expires_after_value, package.expires_after_unit)
            else:
                expires_after = None
            current = {
                "name": package.name,
                "description": package.description,
                "credits": package.credits,
                "price": package.price,
                "tax_rate": package.tax_rate,
            }
            services.package_update(
                package=package,
                **{**current, **data},
                services=[service for service, _ in rows],
                quantities=dict(rows) if kind == PackageKind.FIXED else None,
                expires_after=expires_after,
                by=request.user,
            )
        if archived is True and not package.archived:
            services.package_archive(package=package, by=request.user)
        elif archived is False and package.archived:
            services.package_restore(package=package, by=request.user)
        return self.respond(
            PackageOut, Package.objects.prefetch_related("package_services").get(pk=package.pk)
        )
