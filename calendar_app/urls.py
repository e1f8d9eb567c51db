from django.urls import path

from calendar_app import views

app_name = "calendar_app"
urlpatterns = [
    path("", views.calendar, name="calendar"),
    path("new/", views.appointment_create, name="create"),
    path("new/clients/", views.client_search, name="client_search"),
    path("new/packages/", views.appointment_matches, name="matches"),
    path("services/", views.service_options, name="service_options"),
    path("<int:pk>/", views.appointment_detail, name="detail"),
    path("<int:pk>/edit/", views.appointment_edit_view, name="edit"),
    path("<int:pk>/move/", views.appointment_move, name="move"),
    path("colours.css", views.practitioner_colours, name="colours"),
    path("<int:pk>/link/", views.appointment_link_view, name="link"),
    path("<int:pk>/arrived/", views.appointment_arrived, name="arrived"),
    path("<int:pk>/missed/", views.appointment_missed, name="missed"),
    path("<int:pk>/cancel/", views.appointment_cancel_view, name="cancel"),
    path("<int:pk>/delete/", views.appointment_delete_view, name="delete"),
    path("<int:pk>/invoice/", views.appointment_invoice, name="invoice"),
    path("class/<int:pk>/", views.class_session_detail, name="class_session"),
    path("class/<int:pk>/arrived/", views.class_session_arrived, name="class_arrived"),
]
