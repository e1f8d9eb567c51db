"""Small helpers shared by the staff pages (views stay thin: access, form, service, render)."""

from __future__ import annotations

import functools
import hashlib
import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.core.signals import setting_changed
from django.db import transaction
from django.forms.renderers import TemplatesSetting
from django.forms.utils import flatatt
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django_htmx.http import HttpResponseClientRedirect, reswap, trigger_client_event
from django_htmx.middleware import HtmxDetails

from kernel import idempotency
from kernel.errors import DomainError, NotAllowed

# Status codes for a re-rendered form: htmx is configured (static/js/app.js) to swap these.
INVALID = 400
REFUSED = 409

# The events the server sends to open and close the popup (static/js/app.js listens).
POPUP_OPEN = "popup:open"
POPUP_CLOSE = "popup:close"
# The popup's body on every page (templates/base.html): popup links target it.
POPUP_TARGET = "modal-body"


class FormRenderer(TemplatesSetting):
    """Django's form renderer with our markup (settings.FORM_RENDERER): every
    `{{ form.x.as_field_group }}` renders templates/includes/field.html (label, input,
    help text and errors, with Django's aria-describedby and aria-invalid)."""

    field_template_name = "includes/field.html"


# Joins the texts `escape_all` escapes at once: escape never writes it, and PostgreSQL text
# cannot hold it (a text that does is escaped on its own).
_SEPARATOR = "\x00"


def escape_all(texts: list[str]) -> list[str]:
    """`html.escape` of each text, in one call on their join: escape maps characters one
    by one, so the escaped join is the join of the escaped texts (hundreds of names, a
    select's options or a calendar's clients, cost one call, not hundreds)."""
    if not texts:
        return []
    joined = _SEPARATOR.join(texts)
    if joined.count(_SEPARATOR) != len(texts) - 1:  # a text holds the separator
        return [html.escape(text) for text in texts]
    return html.escape(joined).split(_SEPARATOR)


class QuickSelect(forms.Select):
    """A single `<select>` whose options are built in Python, not one template render
    each: Django's Select renders a template per option (~90 us), so a list of 338
    practitioners cost ~30 ms of a calendar page; this ~1 ms. Same markup (attributes
    from the field, `selected` on the current value); no option groups or option attrs."""

    @property
    def choices(self):
        return self._choices

    @choices.setter
    def choices(self, value) -> None:
        # As given (Django normalizes every option here, ~0.3 us each, which a list of
        # hundreds built for this page does not need); iterated once, in render().
        self._choices = value

    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        # The options as texts (a lazy label in the active language), the key of their
        # markup kept per process (`_options`): a list of hundreds is the same on every
        # page but for the option selected.
        choices = tuple(
            ("" if option_value is None else str(option_value), str(label))
            for option_value, label in self.choices
        )
        options, where = _options(choices)
        chosen = [where[text] for text in set(self.format_value(value)) if text in where]
        if chosen:
            options = list(options)
            for indexes in chosen:
                for index in indexes:
                    options[index] = options[index].replace(">", " selected>", 1)
        return mark_safe(  # noqa: S308 - every value escaped (_options)
            f"<select{flatatt(final)}>\n" + "\n".join(options) + "\n</select>"
        )


@functools.lru_cache(maxsize=64)
def _options(choices: tuple[tuple[str, str], ...]) -> tuple[list[str], dict[str, list[int]]]:
    """QuickSelect's `<option>`s of (value, label) texts, none selected, and the indexes
    of each value's options (to mark those selected): a pure function of its texts."""
    texts = [text for text, _ in choices]
    options = [
        f'<option value="{value_text}">{label_text}</option>'
        for value_text, label_text in zip(
            escape_all(texts), escape_all([label for _, label in choices]), strict=True
        )
    ]
    where: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        where.setdefault(text, []).append(index)
    return options, where


def htmx_request(request: HttpRequest) -> HtmxDetails | None:
    """django-htmx's details of an htmx request, or None for a plain request."""
    details = getattr(request, "htmx", None)
    return details if details else None


# pk_url's URL halves by (name, URLconf, script prefix): what `reverse()` gives for a name
# depends on nothing else, and Django itself keeps each URLconf's resolver per process.
_PK_URLS: dict[tuple[str, str, str | None, str], tuple[str, str]] = {}


_NAMED_URLS: dict[tuple[str, str, str | None, str], str] = {}


def _forget_pk_urls(*, setting: str, **kwargs) -> None:
    if setting == "ROOT_URLCONF":  # as Django clears its URL caches
        _PK_URLS.clear()
        _NAMED_URLS.clear()


setting_changed.connect(_forget_pk_urls)


def pk_url(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for any pk at the cost of one `reverse()` per process
    (a page linking hundreds of rows; each `reverse()` or `{% url %}` costs ~30 us)."""
    key = (name, settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())
    halves = _PK_URLS.get(key)
    if halves is None:
        marker = 918273645
        before, after = reverse(name, args=[marker]).split(str(marker))
        halves = _PK_URLS[key] = (before, after)
    before, after = halves
    return lambda pk: f"{before}{int(pk)}{after}"


def named_url(name: str) -> str:
    """`reverse(name)` of a URL without arguments, once per process (as `pk_url`), or ""
    when the name can't be reversed, as `{% url name as x %}` gives."""
    key = (name, settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())
    url = _NAMED_URLS.get(key)
    if url is None:
        try:
            url = reverse(name)
        except NoReverseMatch:
            url = ""
        _NAMED_URLS[key] = url
    return url


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
    htmx = htmx_request(request)
    # htmx's history restore (Back after hx-push-url) needs the whole page.
    fragment = partial and htmx and not htmx.history_restore_request
    response = render(
        request, f"{template}#{partial}" if fragment else template, context, status=status
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


def render_popup(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    partial: str = "popup",
    layout: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """A popup: for HTMX the template's `partial`, loaded into the page's popup, which the
    "popup:open" event (sent after htmx settles the content) opens and focuses; without
    JavaScript the whole template, a page with the same content in a card.

    Popup templates extend templates/includes/popup_page.html; `layout` is the page that
    frames them (e.g. "catalog/base_catalog.html" keeps the Catalog tabs), base.html if None.
    Re-rendering a form with its errors is render_popup again, with its status (400/409).
    """
    if layout:
        context = {**context, "popup_base": layout}
    response = render_page(request, template, context, partial=partial, status=status)
    htmx = htmx_request(request)
    if htmx and not htmx.history_restore_request:
        trigger_client_event(response, POPUP_OPEN, after="settle")
    return response


def close_popup(response: HttpResponse, *, events: tuple[str, ...] = ()) -> HttpResponse:
    """Close the popup, swap nothing, and send `events` (e.g. "calendarChanged", which the
    calendar behind the popup listens for to refresh itself).

    "popup:close" comes after the (empty) swap: the response's out-of-band parts (the
    "Appointment deleted." message) are swapped while the popup is still open, since
    static/js/app.js drops the answers to a popup that was closed before they arrived."""
    reswap(response, "none")
    for name in events:
        trigger_client_event(response, name)
    return trigger_client_event(response, POPUP_CLOSE, after="swap")


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


def posted(request: HttpRequest):
    """The data for a bound form: the POST (even an empty one, so the form reports what
    is missing), else None for an unbound form on GET."""
    return request.POST if request.method == "POST" else None


def go_to(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful change: a full navigation to `url`. From a popup (HTMX) that
    reloads the page behind it with its message; without JavaScript, a redirect."""
    return HttpResponseClientRedirect(url) if htmx_request(request) else redirect(url)


@dataclass(frozen=True)
class Submitted:
    """What `submit` did: `ok` with the service's `result`, or the status to answer with."""

    ok: bool
    result: Any = None
    status: int = 200


def submit(
    form: forms.Form,
    act: Callable[[dict[str, Any]], Any],
    *,
    fields_by_code: Mapping[str, str] | None = None,
) -> Submitted:
    """A staff form's POST: validate `form`, then call `act(form.cleaned_data)`, the service.

    When the form is invalid its errors stay beside the fields (400); when the service
    refuses, its message goes into the form as `apply_domain_error` places it (409, or
    403 for a permission refusal). Either way nothing was written and the view renders
    the form again with the returned status. `fields_by_code` places refusals whose
    code names no field (e.g. an overlap goes beside the start time).
    """
    if not form.is_valid():
        return Submitted(ok=False, status=INVALID)
    try:
        result = act(form.cleaned_data)
    except DomainError as exc:
        field = (fields_by_code or {}).get(exc.code)
        return Submitted(ok=False, status=apply_domain_error(form, exc, field))
    return Submitted(ok=True, result=result)


def paginate(request: HttpRequest, queryset, per_page: int = 25, count: int | None = None) -> Page:
    """A page of `queryset` from `?page=`; out-of-range or junk pages give the nearest page.

    `count`, when given, is the number of rows `queryset` has, known without counting them
    (a maintained total): the paginator uses it instead of a COUNT over every row."""
    paginator = Paginator(queryset, per_page)
    if count is not None:
        paginator.count = count  # Paginator.count is a cached_property: this is its value
    return paginator.get_page(request.GET.get("page"))


def paginate_known_first(
    request: HttpRequest,
    queryset,
    per_page: int = 25,
    *,
    param: str = "page",
    first: Callable[[], list],
) -> Page:
    """`paginate` (with `?<param>=`), the first page read in one query: `first()` reads
    `queryset[:per_page]` with each row annotated `full_count`, the number of rows of the
    whole queryset (`Window(Count("pk"))`, counted before the LIMIT), e.g. a Prepared
    query. Other pages as `paginate`. `queryset` may be a function making it: then it is
    made only for another page (the first page's paginator holds its rows)."""
    number = request.GET.get(param)
    if number not in (None, "", "1"):
        return Paginator(queryset() if callable(queryset) else queryset, per_page).get_page(number)
    rows = first()
    paginator = Paginator(rows if callable(queryset) else queryset, per_page)
    paginator.count = rows[0].full_count if rows else 0  # a cached_property: its value
    return Page(rows, 1, paginator)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The `next` parameter when it points inside this site, else `fallback`."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# The hidden field carrying a form's one-time key (`{% form_key %}`, kernel/templatetags/form_keys.py).
FORM_KEY_FIELD = "form_key"
# Page keys share the API's key table; the prefix keeps them apart from API keys.
FORM_KEY_PREFIX = "form:"
FORM_KEY_MAX_LENGTH = 64
ALREADY_SENT = "This form had already been sent, so it was not saved again."
ALREADY_SENT_CHANGED = (
    "This form had already been sent and saved, so the changes sent with it again were "
    "not saved. Check the result, then make the change again if it is still needed."
)


def _form_fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256(request.path.encode())
    skip = {FORM_KEY_FIELD, "csrfmiddlewaretoken"}
    for name in sorted(request.POST):
        if name not in skip:
            for value in request.POST.getlist(name):
                digest.update(b"\0" + name.encode() + b"=" + value.encode())
    return digest.hexdigest()


# What a view reads first for a POST, worked out from the request alone: planned reads
# ((sql, params) each) that `post_once` sends with the form's key (`staff_view(ahead=)`).
Ahead = Callable[[HttpRequest], list[tuple[str, list]]]


def post_once(
    request: HttpRequest, run: Callable[[], HttpResponse], ahead: Ahead | None = None
) -> HttpResponse:
    """A staff page's POST, in one transaction with its form key (if it sent one).

    The whole view is one transaction, so a server error or a lost connection before
    COMMIT leaves nothing behind. A form sent with a key (`{% form_key %}`) runs at most
    once per user: the key is claimed in the same transaction (kernel/idempotency.py), so
    a double submit waits for the first and gets its answer, and a retry after a lost
    answer replays it, with a message saying it was not saved again. Only answers of a
    change are kept (status below 400): an invalid or refused form saved nothing, so the
    key stays free and sending it again runs again.

    `ahead(request)`: the view's first reads, sent with the claim of the key and answered
    in the same round trip (one round trip fewer a booking, issue 10); a replay, or a view
    that reads something else first, reads again.
    """
    key = request.POST.get(FORM_KEY_FIELD, "")
    if not key or len(key) > FORM_KEY_MAX_LENGTH or not request.user.is_authenticated:
        with transaction.atomic():
            return run()
    fingerprint = _form_fingerprint(request)
    with transaction.atomic():
        row, stored = idempotency.claim(
            user=request.user,
            key=FORM_KEY_PREFIX + key,
            fingerprint=fingerprint,
            then=ahead(request) if ahead is not None else (),
        )
        if stored is not None:
            if stored.fingerprint == fingerprint:
                messages.info(request, ALREADY_SENT)
            else:
                messages.warning(request, ALREADY_SENT_CHANGED)
            return idempotency.replay(stored, with_headers=True)
        response = run()
        if response.status_code >= 500:
            transaction.set_rollback(True)  # a server error keeps nothing
        elif response.status_code < 400 and not response.streaming:
            idempotency.store(row, response, with_headers=True)
        else:
            idempotency.release(row)
        return response


def staff_view(perm: str | tuple[str, ...], *, ahead: Ahead | None = None) -> Callable:
    """Signed-in staff holding `perm` (403 otherwise; anonymous goes to the sign-in page).

    A POST runs in one transaction, exactly once per form key (`post_once`, with `ahead`:
    the view's first reads, sent with the key)."""
    perms = (perm,) if isinstance(perm, str) else perm

    def decorator(view):
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(perms):
                response = render(request, "403.html", status=403)
                htmx = getattr(request, "htmx", False)
                if htmx and htmx.target == POPUP_TARGET:
                    # Asked for a popup: show the refusal in it.
                    trigger_client_event(response, POPUP_OPEN, after="settle")
                return response
            if request.method == "POST":
                return post_once(request, lambda: view(request, *args, **kwargs), ahead)
            return view(request, *args, **kwargs)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        wrapped.required_perms = perms
        return login_required(wrapped)

    return decorator
