"""The WSGI module leaves what it loaded out of the garbage collector's full passes."""

import gc
import importlib
import sys


def test_loading_the_app_freezes_what_it_loaded():
    gc.unfreeze()
    threshold = gc.get_threshold()
    sys.modules.pop("caspen.wsgi", None)
    try:
        module = importlib.import_module("caspen.wsgi")
        assert callable(module.application)
        assert gc.get_freeze_count() > 10_000  # modules, settings, apps, URL patterns
        # The young generation is collected every 20,000 net allocations, not 700.
        assert gc.get_threshold() == (module.GC_YOUNG_THRESHOLD, *threshold[1:])
        assert module.GC_YOUNG_THRESHOLD > 700
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
