"""The WSGI application (gunicorn: `caspen.wsgi:application`)."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caspen.settings")
application = get_wsgi_application()

# What is loaded by now (modules, settings, the app registry, the URL patterns) lives as
# long as the process: moved out of the garbage collector's reach, so that its full
# passes, which otherwise walk all of it every few dozen requests (~90 ms in the middle
# of a request, measured on a booking), see only what requests leave behind (issue 10).
get_resolver().url_patterns  # noqa: B018 - loaded now rather than on the first request
gc.collect()
gc.freeze()
