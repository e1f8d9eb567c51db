from practice.models import PracticeSettings


def practice(request):
    """The practice's settings for every page (name, currency), loaded at most once."""
    cached = {}

    def load():
        if "practice" not in cached:
            cached["practice"] = PracticeSettings.load()
        return cached["practice"]

    return {"practice": _Lazy(load)}


class _Lazy:
    """Defers the query until a template actually reads a setting."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader(), name)

    def __str__(self):
        return str(self._loader())
