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
        from django.contrib.auth.signals import user_logged_in

        # Connects the signals that revoke API keys (and end sessions) when a user's
        # password changes or the user is deactivated.
        from practice import api_keys  # noqa: F401
        from practice.auth_backend import keep_on_sign_in

        # The permissions and role kept per process are read at sign-in.
        user_logged_in.connect(keep_on_sign_in, dispatch_uid="practice-keep-on-sign-in")
