"""Settings of the floor app: as little as Django needs to answer one query as JSON.

Same Django, same DATABASE_URL and the same persistent connections as the app
(caspen/settings.py), no middleware, no sessions, no templates: what is left is the cost
of Django, gunicorn and one PostgreSQL round trip, the "floor" every page is compared to.
"""

import os
import secrets

import dj_database_url

DEBUG = False
SECRET_KEY = os.environ.get("FLOOR_SECRET_KEY") or secrets.token_urlsafe(40)
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = os.environ.get("TIME_ZONE", "Australia/Sydney")

# contenttypes and auth only because rest_framework imports their models; nothing here
# queries them.
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "bench.floor",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.floor.urls"
WSGI_APPLICATION = "bench.floor.wsgi.application"
DATABASES = {
    "default": dj_database_url.config(
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")), conn_health_checks=True
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
