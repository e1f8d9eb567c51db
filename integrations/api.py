"""`/api/v1/webhooks/`: the practice's webhook endpoints and their deliveries (Admin API
keys only). docs/webhooks.md describes the events, the signature and the retries."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound

from integrations import services
from integrations.models import EVENT_NAMES, EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from kernel.api.viewsets import ApiViewSet

EVENTS_HELP = "The event types sent to this URL: " + "; ".join(
    f"`{name}` ({label.lower()})" for name, label in EVENT_TYPES
)


class WebhookEndpointOut(serializers.ModelSerializer):
    """A URL Caspen sends events to, and which events. The signing secret is not shown."""

    events = serializers.ListField(
        child=serializers.ChoiceField(EVENT_NAMES), help_text=EVENTS_HELP
    )
    active = serializers.BooleanField(
        help_text="False when an Admin disabled it, or Caspen did after a day of failed "
        "deliveries (see `disabled_reason`). A disabled endpoint is sent nothing."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "active",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = fields


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    """The endpoint just registered, with its signing secret (shown this once only)."""

    secret = serializers.CharField(
        help_text="The signing secret. Returned only in this answer: store it now."
    )

    class Meta(WebhookEndpointOut.Meta):
        fields = [*WebhookEndpointOut.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointIn(serializers.Serializer):
    """A URL to send events to, and the events to send."""

    url = serializers.CharField(
        max_length=2000, help_text="Where to POST the events: an http:// or https:// URL."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(EVENT_NAMES),
        min_length=1,
        max_length=20,
        help_text=EVENTS_HELP,
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="A note for people."
    )


class WebhookEndpointEditIn(serializers.Serializer):
    """The endpoint's fields to change; fields left out stay as they are."""

    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(EVENT_NAMES), min_length=1, max_length=20, required=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(
        required=False,
        help_text="`true` enables a disabled endpoint again; `false` stops sending to it.",
    )


class WebhookDeliveryOut(serializers.ModelSerializer):
    """One event sent (or to be sent) to an endpoint: its attempts and the last answer."""

    event_id = serializers.UUIDField(
        source="event.id", help_text="The event's id, as in `Caspen-Event-Id`."
    )
    event_type = serializers.CharField(source="event.type")
    object_type = serializers.CharField(source="event.object_type")
    object_id = serializers.IntegerField(source="event.object_id")
    status = serializers.ChoiceField(
        choices=["pending", "succeeded", "failed"],
        help_text="`pending` (not sent yet, or waiting to be tried again), `succeeded` "
        "(answered 2xx), `failed` (no 2xx after every attempt, or the endpoint was disabled).",
    )
    response_status = serializers.IntegerField(
        allow_null=True, help_text="The HTTP status of the last answer; null if none came."
    )
    response_body = serializers.CharField(help_text="The first 1,000 characters of that answer.")
    error = serializers.CharField(help_text="Why the last attempt failed, if it did.")
    resent_from = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The delivery this one resent, if any."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "object_type",
            "object_id",
            "status",
            "attempts",
            "response_status",
            "response_body",
            "error",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "resent_from",
        ]
        read_only_fields = fields


ENDPOINT_EXAMPLE = {
    "id": 3,
    "url": "https://books.example.com/caspen/webhooks",
    "description": "Accounting sync",
    "events": ["invoice.finalized", "payment.recorded", "payment.refunded"],
    "active": True,
    "disabled_at": None,
    "disabled_reason": "",
    "created_at": "2026-12-01T09:30:00Z",
}
CREATE_EXAMPLE = {
    "url": "https://books.example.com/caspen/webhooks",
    "description": "Accounting sync",
    "events": ["invoice.finalized", "payment.recorded", "payment.refunded"],
}
DELIVERY_EXAMPLE = {
    "id": 812,
    "event_id": "5b0f1f7e-8a51-4f0e-9d4e-2f6f3c1a9b21",
    "event_type": "payment.recorded",
    "object_type": "payment",
    "object_id": 4411,
    "status": "pending",
    "attempts": 2,
    "response_status": 503,
    "response_body": "Service Unavailable",
    "error": "HTTP 503",
    "created_at": "2026-12-01T10:02:11Z",
    "last_attempt_at": "2026-12-01T10:03:12Z",
    "next_attempt_at": "2026-12-01T10:08:12Z",
    "delivered_at": None,
    "resent_from": None,
}
ADMIN_ONLY = " Admin API keys only; others get 403."


@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints",
        description="The URLs Caspen sends events to." + ADMIN_ONLY,
        examples=[OpenApiExample("Endpoints", value=ENDPOINT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Get a webhook endpoint",
        description="The secret is never shown again after creation." + ADMIN_ONLY,
        examples=[OpenApiExample("Endpoint", value=ENDPOINT_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Register a webhook endpoint",
        description=(
            "Caspen POSTs each chosen event to `url` as JSON, signed with the `secret` "
            "returned here (the only time it is shown): see the Webhooks guide for the "
            "`Caspen-Signature` header. Anything but an http:// or https:// address: 400, "
            "with the message under `url`." + ADMIN_ONLY
        ),
        request=WebhookEndpointIn,
        responses={201: WebhookEndpointCreatedOut},
        examples=[
            OpenApiExample("Register", value=CREATE_EXAMPLE, request_only=True),
            OpenApiExample(
                "Registered",
                value={
                    **ENDPOINT_EXAMPLE,
                    "secret": "whsec_3f9a0c1d2b4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6",
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Not a web address",
                value={
                    "url": [
                        "Enter an http:// or https:// address, such as "
                        "https://example.com/caspen-hooks."
                    ]
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint",
        description="Change its URL or events, or enable (`active: true`) or disable it."
        + ADMIN_ONLY,
        request=WebhookEndpointEditIn,
        responses=WebhookEndpointOut,
        examples=[
            OpenApiExample("Enable again", value={"active": True}, request_only=True),
            OpenApiExample(
                "Enabled", value=ENDPOINT_EXAMPLE, response_only=True, status_codes=["200"]
            ),
        ],
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint",
        description="Nothing more is sent to it; its delivery history goes with it." + ADMIN_ONLY,
    ),
)
class WebhookEndpointViewSet(ApiViewSet):
    queryset = WebhookEndpoint.objects.order_by("id")
    serializer_class = WebhookEndpointOut
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {
        name: (services.MANAGE,)
        for name in (
            "list",
            "retrieve",
            "create",
            "partial_update",
            "destroy",
            "deliveries",
            "resend",
            "metadata",
        )
    }

    def get_object(self):
        pk = str(self.kwargs.get("pk", ""))
        if not pk.isdigit() or len(pk) > 18:
            raise NotFound()
        return get_object_or_404(WebhookEndpoint, pk=int(pk))

    def list(self, request):
        return self.paginated(WebhookEndpointOut, self.get_queryset())

    def retrieve(self, request, pk=None):
        return self.respond(WebhookEndpointOut, self.get_object())

    def create(self, request):
        data = self.validated(WebhookEndpointIn)
        endpoint = services.webhook_endpoint_create(**data, by=request.user)
        return self.respond(WebhookEndpointCreatedOut, endpoint, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        data = self.validated(WebhookEndpointEditIn)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, by=request.user, **data)
        return self.respond(WebhookEndpointOut, endpoint)

    def destroy(self, request, pk=None):
        services.webhook_endpoint_delete(endpoint=self.get_object(), by=request.user)
        return self.respond_no_content()

    @extend_schema(
        summary="List an endpoint's deliveries",
        description="Newest first: each event sent (or to be sent) to the endpoint, its "
        "attempts and the last answer." + ADMIN_ONLY,
        responses=WebhookDeliveryOut(many=True),
        examples=[OpenApiExample("Deliveries", value=DELIVERY_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        queryset = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")
        return self.paginated(WebhookDeliveryOut, queryset.order_by("-created_at", "-id"))

    @extend_schema(
        summary="Resend a delivery",
        description="Sends the same event (same id) to the endpoint again, as a new "
        "delivery, after the earlier deliveries about the same object. 409 "
        "`endpoint_disabled` while the endpoint is disabled." + ADMIN_ONLY,
        request=None,
        parameters=[OpenApiParameter("delivery_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={201: WebhookDeliveryOut},
        examples=[
            OpenApiExample(
                "Resent",
                value={
                    **DELIVERY_EXAMPLE,
                    "id": 815,
                    "status": "pending",
                    "attempts": 0,
                    "response_status": None,
                    "response_body": "",
                    "error": "",
                    "created_at": "2026-12-01T11:20:00Z",
                    "last_attempt_at": None,
                    "next_attempt_at": "2026-12-01T11:20:00Z",
                    "resent_from": 812,
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Endpoint disabled",
                value={
                    "detail": "The endpoint is disabled: enable it before resending.",
                    "code": "endpoint_disabled",
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[^/]+)/resend")
    def resend(self, request, pk=None, delivery_id=None):
        endpoint = self.get_object()
        if not str(delivery_id).isdigit() or len(str(delivery_id)) > 18:
            raise NotFound()
        delivery = get_object_or_404(WebhookDelivery, pk=int(delivery_id), endpoint=endpoint)
        again = services.webhook_delivery_resend(delivery=delivery, by=request.user)
        again = WebhookDelivery.objects.select_related("event").get(pk=again.pk)
        return self.respond(WebhookDeliveryOut, again, status.HTTP_201_CREATED)
