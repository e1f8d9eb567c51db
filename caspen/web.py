"""Small helpers shared by the staff pages (views stay thin: access, form, service, render)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme

from caspen.errors import DomainError, NotAllowed

# Status codes for a re-rendered form: htmx is configured (static/js/app.js) to swap these.
INVALID = 400
REFUSED = 409


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render the named partial for HTMX requests and the whole page otherwise.

    One template per page; `partial` names a `{% partialdef %}` inside it, so a plain
    link or form post (no JavaScript) always gets a complete page.
    """
    htmx = getattr(request, "htmx", False)
    # htmx's history restore (Back after hx-push-url) needs the whole page.
    fragment = partial and htmx and not htmx.history_restore_request
    response = render(
        request, f"{template}#{partial}" if fragment else template, context, status=status
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


def apply_domain_error(form: forms.Form, exc: DomainError, field: str | None = None) -> int:
    """Show a refusal in the form and return its status.

    The message goes beside `field`, or beside the field the service named in the error's
    context (`DomainError(..., field="amount")`) when the form has it, else above the form.
    """
    field = field or exc.context.get("field")
    if field is not None and field not in form.fields:
        field = None
    form.add_error(field, exc.message)
    return 403 if isinstance(exc, NotAllowed) else REFUSED


def paginate(request: HttpRequest, queryset, per_page: int = 25) -> Page:
    """A page of `queryset` from `?page=`; out-of-range or junk pages give the nearest page."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def search_text(value: str | None, max_length: int = 100) -> str:
    """A search box's text as typed: at most `max_length` characters, without NUL
    characters (PostgreSQL cannot compare text with them; they are never typed)."""
    return (value or "").replace("\x00", "").strip()[:max_length]


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The `next` parameter when it points inside this site, else `fallback`."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def staff_view(perm: str | tuple[str, ...]) -> Callable:
    """Signed-in staff holding `perm` (403 otherwise; anonymous goes to the sign-in page)."""
    perms = (perm,) if isinstance(perm, str) else perm

    def decorator(view):
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(perms):
                return render(request, "403.html", status=403)
            return view(request, *args, **kwargs)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        wrapped.required_perms = perms
        return login_required(wrapped)

    return decorator
