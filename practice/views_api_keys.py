"""The API keys page: every signed-in user's own keys (an Admin sees everyone's), Create
API key (the key is shown once, in the answer to the POST) and Revoke.

Nobody creates a key for someone else, and nobody reads a key after it was created: the
page has no such form, and practice.api_keys refuses it anyway.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django_htmx.http import trigger_client_event

from kernel.errors import DomainError
from kernel.web import INVALID, apply_domain_error, go_to, paginate, render_page, render_popup
from practice import api_keys
from practice.forms_api_keys import ApiKeyCreateForm
from practice.models import ApiKey

FIELD_ALIASES = {"expires_at": "expires_on"}
KEYS_CHANGED = "apiKeysChanged"


def _key_for(request: HttpRequest, pk: int) -> ApiKey:
    """The key, if the user may manage it (theirs, or any for an Admin); 404 otherwise."""
    api_key = get_object_or_404(ApiKey.objects.select_related("user"), pk=pk)
    if not api_keys.can_manage(api_key=api_key, user=request.user):
        raise Http404
    return api_key


@login_required
def api_key_list(request: HttpRequest) -> HttpResponse:
    everyone = request.user.has_perm(api_keys.VIEW_OTHERS_PERM)
    page = paginate(request, api_keys.api_keys_visible_to(request.user))
    for key in page.object_list:
        key.state = key.status()
        key.mine = key.user_id == request.user.pk
    context = {"page": page, "everyone": everyone}
    return render_page(request, "api_keys/list.html", context, partial="list")


def _create_form(request, form, status=200):
    context = {
        "form": form,
        "title": "Create API key",
        "action": reverse("api_keys:create"),
        "submit": "Create API key",
        "cancel": reverse("api_keys:list"),
        "intro": "A key lets a program use the Caspen API as you, with your role. "
        "Anyone holding it can act as you: keep it as private as your password.",
    }
    return render_popup(request, "includes/popup_form.html", context, status=status)


@never_cache
@login_required
def api_key_create(request: HttpRequest) -> HttpResponse:
    """Not `staff_view`'s once-per-form-key POST on purpose: replaying a double submit
    would mean keeping this answer, the key itself, in the database. A double submit
    makes a second key, which its owner sees on the list and can revoke."""
    if request.method != "POST":
        return _create_form(request, ApiKeyCreateForm())
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return _create_form(request, form, status=INVALID)
    try:
        created = api_keys.api_key_create(
            user=request.user,
            name=form.cleaned_data["name"],
            expires_at=form.expires_at(),
            by=request.user,
        )
    except DomainError as exc:
        # Refusals of the input (name, how far ahead the expiry is): 400, beside the field.
        field = FIELD_ALIASES.get(exc.context.get("field"), exc.context.get("field"))
        apply_domain_error(form, exc, field)
        return _create_form(request, form, status=INVALID)
    context = {
        "title": "API key created",
        "api_key": created.api_key,
        "key": created.key,
        "done": reverse("api_keys:list"),
    }
    # The only time the key exists outside the caller's hands: never cached (never_cache).
    response = render_popup(request, "api_keys/created.html", context, status=201)
    # The list behind the popup reloads itself (templates/api_keys/list.html listens).
    return trigger_client_event(response, KEYS_CHANGED)


@login_required
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = _key_for(request, pk)
    whose = "" if api_key.user_id == request.user.pk else f" of {_name(api_key.user)}"
    confirm = {
        "title": f"Revoke {api_key.name}?",
        "text": f"Programs using the key{whose} ({api_key.prefix}…) stop working at once. "
        "A revoked key can't be used again; create a new one if needed.",
        "action": reverse("api_keys:revoke", args=[api_key.pk]),
        "button": "Revoke",
        "cancel": reverse("api_keys:list"),
    }
    if request.method != "POST":
        return render_popup(request, "includes/confirm.html", confirm)
    api_keys.api_key_revoke(api_key=api_key, by=request.user)
    messages.success(request, f"API key {api_key.name}{whose} revoked.")
    return go_to(request, reverse("api_keys:list"))


def _name(user) -> str:
    return user.get_full_name() or user.username
