from practice.auth_backend import role_name
from practice.models import PracticeSettings


def practice(request):
    """The practice's settings for every page (name, currency), loaded at most once, and
    the signed-in user's role name."""
    cached = {}

    def load():
        if "practice" not in cached:
            cached["practice"] = PracticeSettings.load()
        return cached["practice"]

    # The signed-in user's role for the top bar: a callable, so only a page that shows
    # it asks (the name is kept per process like the permissions, practice.auth_backend).
    return {"practice": _Lazy(load), "staff_role": lambda: role_name(request.user)}


class _Lazy:
    """Defers the query until a template actually reads a setting."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader(), name)

    def __str__(self):
        return str(self._loader())
