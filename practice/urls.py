from django.urls import path

from practice import activity
from practice import views as views

app_name = "settings"
urlpatterns = [
    path("", views.index, name="index"),
    path("practice/", views.practice_details, name="practice"),
    path("invoices/", views.invoice_settings, name="invoices"),
    path("documents/", views.document_settings, name="documents"),
    path("cancellations/", views.cancellation_settings, name="cancellations"),
    path("emails/", views.email_settings, name="emails"),
    path("staff/", views.staff, name="staff"),
    path("staff/add/", views.staff_add, name="staff_add"),
    path("staff/<int:pk>/edit/", views.staff_edit, name="staff_edit"),
    path("staff/<int:pk>/deactivate/", views.staff_deactivate, name="staff_deactivate"),
    path("staff/<int:pk>/reactivate/", views.staff_reactivate, name="staff_reactivate"),
    path("activity/", activity.activity, name="activity"),
    # Issue 11: which services a practitioner provides at each location.
    path(
        "practitioners/<int:pk>/services/",
        views.practitioner_services,
        name="practitioner_services",
    ),
    path("practitioners/<int:pk>/hours/", views.practitioner_hours, name="practitioner_hours"),
]

# Tax rates, payment methods, cancellation reasons, locations and practitioners:
# /settings/tax-rates/, /settings/tax-rates/add/, /settings/tax-rates/<pk>/edit/, ...
for key, section_views in views.SECTION_VIEWS.items():
    slug = key.replace("_", "-")
    urlpatterns += [
        path(f"{slug}/", section_views["list"], name=key),
        path(f"{slug}/add/", section_views["add"], name=f"{key}_add"),
        path(f"{slug}/<int:pk>/edit/", section_views["edit"], name=f"{key}_edit"),
        path(f"{slug}/<int:pk>/archive/", section_views["archive"], name=f"{key}_archive"),
        path(f"{slug}/<int:pk>/restore/", section_views["restore"], name=f"{key}_restore"),
    ]
