from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from practice import views as practice_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("caspen.api_urls")),
    path("clients/", include("clients.urls")),
    path("catalog/", include("catalog.urls")),
    path("packages/", include("packages.urls")),
    path("calendar/", include("calendar_app.urls")),
    path("billing/", include("invoicing.urls")),
    path("settings/", include("practice.urls")),
    path("settings/webhooks/", include("integrations.urls")),
    path("api-keys/", include("practice.urls_api_keys")),
    path("reports/", include("reports.urls")),
    path("documents/", include("documents.urls")),
    # Public links to invoices: no sign-in, the token is the key (documents/links.py).
    path("d/", include("documents.urls_public")),
    path("", practice_views.home, name="home"),
]

# Under /api/ these answer JSON ({"detail", "code"}); elsewhere the pages' templates.
handler400 = "kernel.api.errors.bad_request"
handler403 = "kernel.api.errors.permission_denied"
handler404 = "kernel.api.errors.page_not_found"
handler500 = "kernel.api.errors.server_error"
