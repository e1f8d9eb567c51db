"""The site's URLs under /moved/ (tests/kernel/test_url_halves.py)."""

from django.urls import include, path

urlpatterns = [path("moved/", include("caspen.urls"))]
