"""The API keys page (/api-keys/): every signed-in user's own keys."""

from django.urls import path

from practice import views_api_keys as views

app_name = "api_keys"
urlpatterns = [
    path("", views.api_key_list, name="list"),
    path("create/", views.api_key_create, name="create"),
    path("<int:pk>/revoke/", views.api_key_revoke, name="revoke"),
]
