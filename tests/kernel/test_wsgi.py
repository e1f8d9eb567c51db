"""The WSGI module leaves what it loaded out of the garbage collector's full passes."""

import gc
import importlib
import sys


def test_loading_the_app_freezes_what_it_loaded():
    gc.unfreeze()
    sys.modules.pop("caspen.wsgi", None)
    try:
        module = importlib.import_module("caspen.wsgi")
        assert callable(module.application)
        assert gc.get_freeze_count() > 10_000  # modules, settings, apps, URL patterns
    finally:
        gc.unfreeze()
