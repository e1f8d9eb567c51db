"""Template helpers: money, status badges, query-string links."""

from __future__ import annotations

from django import template
from django.core.signals import setting_changed
from django.templatetags.static import static
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe

from kernel.money import format_money
from kernel.time import day_month_year as _day_month_year
from kernel.web import named_url, pk_url

register = template.Library()

BADGE_CLASSES = {
    "active": "active",
    "completed": "completed",
    "expired": "expired",
    "canceled": "canceled",
    "draft": "draft",
    "open": "open",
    "part paid": "partpaid",
    "overdue": "overdue",
    "unpaid": "unpaid",
    "not invoiced": "neutral",
    "paid": "paid",
    "void": "void",
    "booked": "booked",
    "arrived": "arrived",
    "missed": "missed",
}


@register.filter
def money(value, currency: str = "") -> str:
    """1234.5 -> "$1,234.50" in the practice's currency (kernel.money.format_money)."""
    if value is None or value == "":
        return ""
    try:
        return format_money(value, currency or None)
    except ValueError:
        return str(value)


@register.filter
def count(value) -> str:
    """12345 -> "12,345": a number of things (credits, invoices, packages) as text."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "" if value is None else str(value)


@register.filter(expects_localtime=True)
def day_month_year(value) -> str:
    """`value|date:"j M Y"` ("7 Mar 2026") of a date, or of a datetime on the practice's
    clock, written directly (kernel.time.day_month_year); "" for no date, as `date`."""
    if value in (None, ""):
        return ""
    return _day_month_year(value)


@register.simple_tag
def badge(label: str) -> str:
    """<span class="badge badge--paid">Paid</span> for a status label."""
    # An f-string, not format_html (~10x slower): list pages show hundreds of badges.
    key = str(label).lower()
    return mark_safe(  # noqa: S308 - the class is one of ours, the label escaped
        f'<span class="badge badge--{BADGE_CLASSES.get(key, "neutral")}">{conditional_escape(label)}</span>'
    )


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with `changes` applied (None removes a key): for
    pagination and filter links that keep the other filters."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag
def pk_link(name: str, pk: int) -> str:
    """`{% url name pk %}` for a URL taking one integer pk, its halves reversed once per
    process (kernel.web.pk_url); escaped like `{% url %}` when written out."""
    return pk_url(name)(pk)


@register.simple_tag
def nav_url(name: str) -> str:
    """`{% url name as x %}` for a URL without arguments, reversed once per process
    (kernel.web.named_url): "" when the name can't be reversed."""
    return named_url(name)


# The top bar's main navigation: (URL name, label, permission, the sections it is current in).
_NAV = (
    ("calendar_app:calendar", "Calendar", "calendar_app.view_appointment", ("calendar_app",)),
    ("clients:list", "Clients", "clients.view_client", ("clients", "packages")),
    ("catalog:index", "Catalog", "catalog.view_package", ("catalog",)),
    ("invoicing:list", "Billing", "invoicing.view_invoice", ("invoicing",)),
    ("reports:index", "Reports", "reports.view_reports", ("reports",)),
)
_CURRENT = 'aria-current="page"'


@register.simple_tag(takes_context=True)
def topbar(context) -> str:
    """The signed-in user's top bar (templates/base.html), written here rather than by
    ~50 template nodes on every page: the main navigation by permission (the current
    section marked), the user's name and role, API keys and Sign out. Its URLs are
    reversed once per process (`named_url`); every text value is escaped."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return ""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    section = match.namespace if match is not None else None
    url_name = match.url_name if match is not None else None

    def current(on: bool) -> str:
        return _CURRENT if on else ""

    links = []
    for name, label, perm, sections in _NAV:
        url = named_url(name)
        if url and user.has_perm(perm):
            links.append(f'<a href="{escape(url)}" {current(section in sections)}>{label}</a>')
    settings_url = named_url("settings:index")
    if settings_url and user.has_perm("caspen.change_practicesettings"):
        activity = section == "settings" and url_name == "activity"
        links.append(
            f'<a href="{escape(settings_url)}" {current(section == "settings" and not activity)}>'
            f'Settings</a>\n<a href="{escape(named_url("settings:activity"))}" '
            f"{current(activity)}>Activity</a>"
        )
    who: str = escape(user.get_full_name() or user.username)
    role = context.get("staff_role")
    role = role() if callable(role) else role
    if role:
        who += f' <span class="muted">· {escape(role)}</span>'
    csrf = csrf_input(context)
    nav = "\n".join(links)
    return mark_safe(  # noqa: S308 - every value escaped above
        '<header class="topbar">\n'
        '<a class="topbar__brand" href="/"><span class="brand__mark" aria-hidden="true">C</span>'
        " Caspen</a>\n"
        '<button class="button button--small topbar__toggle" type="button" aria-expanded="false"'
        ' aria-controls="topbar-menu" data-nav-toggle>\n'
        '<span class="topbar__toggle-icon" aria-hidden="true"></span> Menu\n</button>\n'
        '<div class="topbar__menu" id="topbar-menu">\n'
        f'<nav class="topbar__nav" aria-label="Main">\n{nav}\n</nav>\n'
        '<div class="topbar__user">\n'
        f'<span class="topbar__who" title="Signed in">{who}</span>\n'
        f'<a class="button button--ghost button--small" href="{escape(named_url("api_keys:list"))}"'
        f" {current(section == 'api_keys')}>API keys</a>\n"
        f'<form method="post" action="{escape(named_url("logout"))}">{csrf}'
        '<button class="button button--ghost button--small" type="submit">Sign out</button>'
        "</form>\n</div>\n</div>\n</header>"
    )


def csrf_input(context) -> str:
    """What `{% csrf_token %}` writes: the form's hidden token field (escaped), or ""."""
    token = context.get("csrf_token")
    if not token or token == "NOTPROVIDED":
        return ""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(token)}">'


# static_url's URLs by path: the static files and their names (hashed by collectstatic)
# do not change while a process runs.
_STATIC_URLS: dict[str, str] = {}


def _forget_static_urls(*, setting: str, **kwargs) -> None:
    if setting in ("STATIC_URL", "STORAGES"):  # tests that change them
        _STATIC_URLS.clear()


setting_changed.connect(_forget_static_urls)


@register.simple_tag
def static_url(path: str) -> str:
    """`{% static path %}`, worked out once per process (every page links four)."""
    url = _STATIC_URLS.get(path)
    if url is None:
        url = _STATIC_URLS[path] = static(path)
    return url
