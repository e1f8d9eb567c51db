"""Settings > Webhooks (Admin only)."""

from django.urls import path

from integrations import views

app_name = "webhooks"
urlpatterns = [
    path("", views.webhook_list, name="list"),
    path("add/", views.webhook_add, name="add"),
    path("<int:pk>/", views.webhook_detail, name="detail"),
    path("<int:pk>/edit/", views.webhook_edit, name="edit"),
    path("<int:pk>/disable/", views.webhook_disable, name="disable"),
    path("<int:pk>/enable/", views.webhook_enable, name="enable"),
    path("<int:pk>/delete/", views.webhook_delete, name="delete"),
    path("<int:pk>/deliveries/<int:delivery_pk>/resend/", views.delivery_resend, name="resend"),
]
