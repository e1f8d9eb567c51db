"""Settings > Webhooks: the endpoints (add, edit, disable, enable, delete) and each one's
deliveries with Resend. Admin only (the Settings permission)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from integrations import services
from integrations.forms import WebhookEndpointForm
from integrations.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from kernel.web import go_to, paginate, posted, render_page, render_popup, staff_view, submit

SETTINGS_PAGE = "settings/base_settings.html"
MANAGE = services.MANAGE
EVENT_LABELS = dict(EVENT_TYPES)


def _popup(request, template, context, status=200):
    return render_popup(
        request, template, {**context, "section": "webhooks"}, layout=SETTINGS_PAGE, status=status
    )


@staff_view(MANAGE)
def webhook_list(request: HttpRequest) -> HttpResponse:
    endpoints = list(WebhookEndpoint.objects.order_by("id"))
    context = {
        "section": "webhooks",
        "endpoints": endpoints,
        "disabled_by_failures": [e for e in endpoints if not e.active and e.failing_since],
    }
    return render_page(request, "integrations/list.html", context)


def _form_popup(request, form, *, title, action, submit_label, cancel, status=200):
    context = {
        "form": form,
        "title": title,
        "action": action,
        "submit": submit_label,
        "cancel": cancel,
        "intro": "Caspen sends each chosen event to this address as a signed JSON POST. "
        "See the Webhooks guide (docs/webhooks.md) for checking the signature.",
    }
    return _popup(request, "includes/popup_form.html", context, status=status)


@never_cache
@staff_view(MANAGE)
def webhook_add(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(posted(request))
    if request.method == "POST":
        done = submit(
            form,
            lambda data: services.webhook_endpoint_create(**data, by=request.user),
        )
        if done.ok:
            endpoint = done.result
            context = {
                "title": "Webhook added",
                "endpoint": endpoint,
                "done": reverse("webhooks:detail", args=[endpoint.pk]),
            }
            # The only time the secret is shown: never cached.
            return _popup(request, "integrations/created.html", context, status=201)
        status = done.status
    else:
        status = 200
    return _form_popup(
        request,
        form,
        title="Add a webhook",
        action=reverse("webhooks:add"),
        submit_label="Add webhook",
        cancel=reverse("webhooks:list"),
        status=status,
    )


@staff_view(MANAGE)
def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    form = WebhookEndpointForm(posted(request), initial=initial)
    status = 200
    if request.method == "POST":
        done = submit(
            form,
            lambda data: services.webhook_endpoint_update(
                endpoint=endpoint, by=request.user, **data
            ),
        )
        if done.ok:
            messages.success(request, "Webhook saved.")
            return go_to(request, reverse("webhooks:detail", args=[pk]))
        status = done.status
    return _form_popup(
        request,
        form,
        title="Edit webhook",
        action=reverse("webhooks:edit", args=[pk]),
        submit_label="Save",
        cancel=reverse("webhooks:detail", args=[pk]),
        status=status,
    )


@staff_view(MANAGE)
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    deliveries = (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .order_by("-created_at", "-id")
    )
    context = {
        "section": "webhooks",
        "endpoint": endpoint,
        "events": [(name, EVENT_LABELS.get(name, "")) for name in endpoint.events],
        "page": paginate(request, deliveries),
    }
    return render_page(request, "integrations/detail.html", context)


def _confirm(request, *, title, text, action, button, cancel):
    context = {"title": title, "text": text, "action": action, "button": button, "cancel": cancel}
    return _popup(request, "includes/confirm.html", context)


@staff_view(MANAGE)
def webhook_disable(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if request.method != "POST":
        return _confirm(
            request,
            title="Disable this webhook?",
            text="Caspen stops sending events to this address. Events that happen while "
            "it is disabled are not sent later. You can enable it again.",
            action=reverse("webhooks:disable", args=[pk]),
            button="Disable",
            cancel=reverse("webhooks:detail", args=[pk]),
        )
    services.webhook_endpoint_update(endpoint=endpoint, active=False, by=request.user)
    messages.success(request, "Webhook disabled.")
    return go_to(request, reverse("webhooks:detail", args=[pk]))


@require_POST
@staff_view(MANAGE)
def webhook_enable(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    services.webhook_endpoint_update(endpoint=endpoint, active=True, by=request.user)
    messages.success(request, "Webhook enabled: new events are sent to it again.")
    return go_to(request, reverse("webhooks:detail", args=[pk]))


@staff_view(MANAGE)
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if request.method != "POST":
        return _confirm(
            request,
            title="Delete this webhook?",
            text="Caspen stops sending events to this address and forgets its deliveries. "
            "This can't be undone.",
            action=reverse("webhooks:delete", args=[pk]),
            button="Delete",
            cancel=reverse("webhooks:detail", args=[pk]),
        )
    services.webhook_endpoint_delete(endpoint=endpoint, by=request.user)
    messages.success(request, "Webhook deleted.")
    return go_to(request, reverse("webhooks:list"))


@require_POST
@staff_view(MANAGE)
def delivery_resend(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_pk, endpoint_id=pk)
    try:
        services.webhook_delivery_resend(delivery=delivery, by=request.user)
    except services.DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{delivery.event.type} will be sent again.")
    return go_to(request, reverse("webhooks:detail", args=[pk]))
