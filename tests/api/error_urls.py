"""The site's URLs plus views that fail, to prove what a server error answers (used by
tests/api/test_error_answers.py through ROOT_URLCONF)."""

from django.urls import path
from rest_framework.views import APIView

from caspen.urls import handler400, handler403, handler404, handler500  # noqa: F401
from caspen.urls import urlpatterns as site


def boom(request):
    raise RuntimeError("A bug in a view")


class Boom(APIView):
    def get(self, request):
        raise RuntimeError("A bug in an API view")


urlpatterns = [
    path("api/v1/boom/", Boom.as_view()),
    path("api/v1/plain-boom/", boom),
    path("boom/", boom),
    *site,
]
