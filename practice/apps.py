from django.apps import AppConfig


class PracticeConfig(AppConfig):
    """The practice itself: its settings, staff roles and users, and the Settings pages.

    The label stays "caspen" (the app's first name), so its tables, migrations and
    permission codenames (`caspen.change_practicesettings`) are unchanged.
    """

    name = "practice"
    label = "caspen"
    verbose_name = "Practice"

    def ready(self) -> None:
        from kernel import money
        from practice.selectors import kept_currency

        money.set_currency_source(kept_currency)
        # Connects the signals that revoke API keys (and end sessions) when a user's
        # password changes or the user is deactivated.
        from practice import api_keys  # noqa: F401
