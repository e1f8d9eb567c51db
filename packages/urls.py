from django.urls import path

from packages import views

app_name = "packages"
urlpatterns = [
    path("new/for-client/<int:client_pk>/", views.package_create, name="create"),
    path("<int:pk>/", views.package_detail, name="detail"),
    path("<int:pk>/activity/", views.package_activity, name="activity"),
    path("<int:pk>/invoice/", views.package_invoice, name="invoice"),
    path("<int:pk>/cancel/", views.package_cancel, name="cancel"),
    path("<int:pk>/adjust/", views.package_adjust, name="adjust"),
    path("<int:pk>/extend/", views.package_extend, name="extend"),
]
