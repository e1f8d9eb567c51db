from django.urls import path

from clients import views

app_name = "clients"
urlpatterns = [
    path("", views.client_list, name="list"),
    path("add/", views.client_add, name="add"),
    path("<int:pk>/", views.client_detail, name="detail"),
    path("<int:pk>/appointments/", views.client_appointments, name="appointments"),
    path("<int:pk>/invoices/", views.client_invoices, name="invoices"),
    path("<int:pk>/activity/", views.client_activity, name="activity"),
    path("<int:pk>/edit/", views.client_edit, name="edit"),
    path("<int:pk>/archive/", views.client_archive, name="archive"),
]
