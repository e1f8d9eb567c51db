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

# A request leaves few objects behind (a booking's net growth is a few hundred), yet with
# the default threshold of 700 the collector still ran about every other booking, for
# 0.3 ms a booking (0.6 ms a pass, the young objects of a whole request). Raised, a pass
# comes every few dozen requests: 0.30 -> 0.00 ms of collection and 6.9 -> 6.6 ms of CPU a
# booking in-process (issue 10). The garbage waiting in between is a few megabytes.
GC_YOUNG_THRESHOLD = 20_000
gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
