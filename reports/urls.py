from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("package-liability/", views.package_liability_page, name="package_liability"),
    path("package-liability/csv/", views.package_liability_csv, name="package_liability_csv"),
]
