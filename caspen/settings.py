"""Settings for Caspen, read from the environment.

Every value that differs between machines comes from an environment variable (see
`.env.example`). Malformed values fail loudly at start-up rather than half-working.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import zoneinfo
from pathlib import Path

import dj_database_url
import django.forms
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = _env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not os.environ.get("CASPEN_ALLOW_INSECURE_KEY"):
        raise ImproperlyConfigured("SECRET_KEY is not set (set DEBUG=true for local development)")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

# Seals the credit ledger's hash chain (packages/chain.py). It stays with the app, never in
# the database. Set it once and keep it: `check_ledger` verifies every row with it.
LEDGER_CHAIN_KEY = os.environ.get("LEDGER_CHAIN_KEY") or (
    hashlib.sha256(f"caspen-ledger-chain:{SECRET_KEY}".encode()).hexdigest()
)

# Under pytest (which sets PYTEST_VERSION) the local names are allowed too: the API fuzzer
# loads the schema as "localhost".
_LOCAL_HOSTS = "localhost,127.0.0.1,[::1]"
ALLOWED_HOSTS = _env_list(
    "ALLOWED_HOSTS", _LOCAL_HOSTS if DEBUG or os.environ.get("PYTEST_VERSION") else ""
)
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")

TIME_ZONE = os.environ.get("TIME_ZONE", "Australia/Sydney")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not a known time zone") from exc
USE_TZ = True
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en-au")
USE_I18N = True

# The practice's currency; PracticeSettings copies it as its default.
CURRENCY = os.environ.get("CURRENCY", "AUD").upper()
if len(CURRENCY) != 3 or not CURRENCY.isalpha():
    raise ImproperlyConfigured(f"CURRENCY must be a three-letter ISO 4217 code, not {CURRENCY!r}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "kernel",
    "practice",
    "clients",
    "catalog",
    "packages",
    "calendar_app",
    "invoicing",
    "reports",
    "documents",
    "demo",
    # The job queue (kernel/jobs.py): its tables, `manage.py procrastinate worker`.
    "procrastinate.contrib.django",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Reads the version counters of what processes keep in memory (permissions, the
    # currency) at most once per request: practice/versions.py.
    "practice.versions.VersionsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kernel.middleware.AuditContextMiddleware",
    "kernel.middleware.CurrencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "kernel.security.AbsoluteSessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kernel.middleware.HtmxMessagesMiddleware",
    "kernel.security.ContentSecurityPolicyMiddleware",
    "kernel.security.NoStoreForSignedInMiddleware",
    "kernel.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns lockouts into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "caspen.urls"
WSGI_APPLICATION = "caspen.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Django's own form templates (widgets) after ours: the form renderer below
        # renders through this engine.
        "DIRS": [BASE_DIR / "templates", Path(django.forms.__file__).parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "practice.context_processors.practice",
            ],
        },
    },
]
# Every form field renders templates/includes/field.html (`{{ form.x.as_field_group }}`).
FORM_RENDERER = "kernel.web.FormRenderer"

if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `make run` and `make test` set it for you; "
        "otherwise e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/caspen"
    )
DATABASES = {
    # Persistent connections: without them every request pays a new connection,
    # which cuts throughput about five-fold on these machines.
    "default": dj_database_url.config(
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")), conn_health_checks=True
    )
}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("Caspen needs PostgreSQL (constraints, locks and ranges rely on it)")
DATABASES["default"]["ENGINE"] = "kernel.db.postgresql"  # tells a COMMIT lost in doubt
# Behind PgBouncer in transaction-pooling mode (README: Deployment), each transaction may
# get another server connection: no prepared statements and no server-side cursors,
# which it would not keep. Nothing else is kept between transactions: the audit context
# is set per transaction. Otherwise the reads registered with `plan_once` (rows by their
# key: kernel.prepared) run as prepared statements, planned once per connection
# (kernel/db/postgresql/base.py); Django's own cursors bind values client-side and never
# prepare, and Django turns psycopg's preparing off unless OPTIONS turn it on.
DATABASE_TRANSACTION_POOLING = _env_bool("DATABASE_TRANSACTION_POOLING", False)
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    None if DATABASE_TRANSACTION_POOLING else 5
)
if DATABASE_TRANSACTION_POOLING:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

# The owner of the tables, for migrations (kernel/database.py): same server and database
# as DATABASE_URL, another role. The app itself then runs as DATABASE_URL's role, which
# may not change or remove rows of append-only tables (the ledger, the audit).
DATABASE_OWNER = None
DATABASE_APP_ROLE = None
if os.environ.get("DATABASE_OWNER_URL"):
    _owner = dj_database_url.parse(os.environ["DATABASE_OWNER_URL"])

    def _where(db: dict) -> tuple:
        return (db["NAME"], db["HOST"], db["PORT"], db.get("OPTIONS", {}).get("host"))

    if _where(_owner) != _where(DATABASES["default"]):
        raise ImproperlyConfigured(
            "DATABASE_OWNER_URL must name the same server and database as DATABASE_URL "
            "(only the role and password differ)"
        )
    DATABASE_OWNER = {"USER": _owner["USER"], "PASSWORD": _owner["PASSWORD"]}
    if _owner["USER"] != DATABASES["default"]["USER"]:
        DATABASE_APP_ROLE = DATABASES["default"]["USER"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# Email (documents sent to clients): EMAIL_URL names the SMTP server, such as
# smtp://user:password@mail.example.com:587 (STARTTLS; smtps:// for TLS from the start;
# user and password percent-encoded). Unset: emails are written to the console (for
# development; `manage.py check --deploy` warns about it).
def _email_settings(url: str) -> dict:
    from urllib.parse import unquote, urlsplit

    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if url in ("console:", "console://"):
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ImproperlyConfigured(
            "EMAIL_URL must look like smtp://user:password@host:587 or smtps://..., "
            f"not {parts.scheme or url!r}"
        )
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError as exc:
        raise ImproperlyConfigured("EMAIL_URL has an invalid port") from exc
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        # STARTTLS on the submission port unless the URL says ?tls=false (a local relay).
        "EMAIL_USE_TLS": parts.scheme == "smtp" and "tls=false" not in parts.query,
    }


EMAIL_URL = os.environ.get("EMAIL_URL", "")
globals().update(_email_settings(EMAIL_URL))
EMAIL_TIMEOUT = 15
DEFAULT_FROM_EMAIL = os.environ.get("EMAIL_FROM", "Caspen <noreply@localhost>")
# Public links to invoices live this many days unless staff choose otherwise.
INVOICE_LINK_DAYS = int(os.environ.get("INVOICE_LINK_DAYS", "30"))
# Where the API keeps Idempotency-Keys (kernel/api/idempotency.py).
IDEMPOTENCY_KEY_MODEL = "caspen.IdempotencyKey"
# Where the API counts requests per user for throttling (kernel/api/throttling.py).
API_THROTTLE_MODEL = "caspen.ApiThrottleWindow"

# Shared by every server process (a per-process memory cache would differ between
# gunicorn workers). Nothing relies on it today: API throttling counts in its own table
# (API_THROTTLE_MODEL, one atomic statement per request). Created by a migration.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "caspen_cache",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in hardening. django-axes locks out a username *from one address* after repeated
# failures, so an attacker elsewhere cannot lock real staff out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend with permissions kept per process, exact on the next request.
    "practice.auth_backend.CachedModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("LOGIN_LOCKOUT_HOURS", "0.25"))  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# The Django admin's audit history (pghistory's Events) in words: who, when, from where,
# what happened and what changed (practice/admin_history.py).
PGHISTORY_ADMIN_CLASS = "practice.admin_history.ReadableEventsAdmin"
# The client's address behind a reverse proxy (kernel/network.py): X-Forwarded-For is read
# only from these proxies (addresses or CIDR networks, comma-separated; default none).
# The lockout and the audit trail both use it.
TRUSTED_PROXIES = _env_list("TRUSTED_PROXIES", "")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES must list IP addresses or networks, not {_proxy!r}"
        ) from exc
AXES_CLIENT_IP_CALLABLE = "kernel.network.client_ip"

# Sessions: an idle timeout (each request extends it) and an absolute one from sign-in.
# Django already rotates the session key on sign-in and flushes it on sign-out; a
# deactivated user's next request is anonymous (ModelBackend refuses inactive users).
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_IDLE_MINUTES", "30")) * 60
# The idle timeout's expiry is pushed forward by kernel.security (at most once every
# SESSION_REFRESH_SECONDS), not by a write on every request.
SESSION_SAVE_EVERY_REQUEST = False
# Database sessions whose read is built once per process (kernel/sessions.py), reading
# the signed-in user in the same query (practice/sessions.py).
SESSION_ENGINE = "practice.sessions"
SESSION_REFRESH_SECONDS = 60
SESSION_ABSOLUTE_SECONDS = int(os.environ.get("SESSION_ABSOLUTE_HOURS", "12")) * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
LOGIN_URL_PATH = "/login/"

# HTTPS and security headers (Django's deployment checklist). On by default in
# production; `HTTPS=false` for a plain-HTTP setup such as a local load test.
HTTPS = _env_bool("HTTPS", not DEBUG and not os.environ.get("PYTEST_VERSION"))
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if _env_bool("BEHIND_TLS_PROXY", False) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            # Plain storage in development and under pytest (PYTEST_VERSION is set by
            # pytest itself): the hashed manifest exists only after collectstatic.
            if DEBUG or _env_bool("CASPEN_PLAIN_STATIC", False) or os.environ.get("PYTEST_VERSION")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}


def _env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as "1000/min" (per second, minute, hour or day)."""
    raw = os.environ.get(name, "").strip() or default
    count, _, period = raw.partition("/")
    if not count.isdigit() or period[:1] not in {"s", "m", "h", "d"}:
        raise ImproperlyConfigured(f"{name} must look like 1000/min or 50/s, not {raw!r}")
    return raw


# The REST API (/api/v1/, kernel/api/): JSON only, token or session authentication,
# role permissions, per-user throttling (API_THROTTLE_USER, e.g. "1000/min").
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # API keys (practice.api_keys): hashed, shown once, revocable.
        "practice.api_auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The API's viewsets (kernel.api.viewsets.ApiViewSet) set their parser, pagination, filter
    # and throttle classes themselves: naming kernel.api here would import it while
    # rest_framework.views is still loading.
    "DEFAULT_THROTTLE_RATES": {"user": _env_rate("API_THROTTLE_USER", "1000/min")},
    "EXCEPTION_HANDLER": "kernel.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "kernel.api.schema.CaspenAutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Caspen API",
    # The overview shown at the top of /api/docs/ (authentication, the main flow as a
    # worked example, errors, idempotency, pages, sync, rate limits): docs/api.md.
    "DESCRIPTION": (BASE_DIR / "docs" / "api.md").read_text(encoding="utf-8"),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ClientPackageStatusEnum": "packages.models.ClientPackageStatus",
        "AppointmentStatusEnum": "calendar_app.models.AppointmentStatus",
        "InvoiceStatusEnum": "invoicing.models.InvoiceStatus",
        "PaymentStatusEnum": "invoicing.models.PaymentStatus",
        "ClientPackagePaymentStatusEnum": "invoicing.selectors.PACKAGE_PAYMENT_CHOICES",
        "PackageKindEnum": "catalog.models.PackageKind",
        "PeriodUnitEnum": "catalog.models.PeriodUnit",
        "LedgerKindEnum": "packages.models.LedgerKind",
    },
    "TAGS": [
        {"name": "clients", "description": "The practice's clients."},
        {
            "name": "catalog",
            "description": "What the practice sells: services and packages, and the tax rates they use.",
        },
        {
            "name": "client-packages",
            "description": "Packages sold to clients: their credits, expiry, ledger and refunds, and the packages an appointment could use.",
        },
        {
            "name": "appointments",
            "description": "The calendar: booking, linking a client package (one credit), canceling, Arrived and Missed.",
        },
        {
            "name": "invoices",
            "description": "Invoices, from Draft to finalized, paid or void, and their PDFs; the credit notes that take an amount off them.",
        },
        {
            "name": "payments",
            "description": "Payments recorded against invoices, their refunds and receipts.",
        },
        {
            "name": "practice",
            "description": "The practice's lists: locations, practitioners, payment methods and cancellation reasons.",
        },
        {
            "name": "reports",
            "description": "The reports' figures, as on the Reports pages (Admin, Accountant).",
        },
        {
            "name": "webhooks",
            "description": "The URLs Caspen POSTs events to (an invoice finalized, a payment recorded...), signed with a secret, and each delivery's attempts (Admin API keys only). See the Webhooks guide.",
        },
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kernel.api.schema.describe_components",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's own logger has a console handler under DEBUG; let the root print instead.
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        # The job queue's start-up chatter on every manage.py command (kernel/jobs.py).
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
    },
}

# Webhooks (integrations/, docs/webhooks.md): how long a receiver has to answer.
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
