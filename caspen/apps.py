from django.apps import AppConfig


class CaspenConfig(AppConfig):
    name = "caspen"
    verbose_name = "Practice"
