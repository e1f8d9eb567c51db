from django.urls import path

from catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.index, name="index"),
    path("packages/add/", views.package_add, name="package_add"),
    path("packages/<int:pk>/", views.package_detail, name="package_detail"),
    path("packages/<int:pk>/edit/", views.package_edit, name="package_edit"),
    path("packages/<int:pk>/archive/", views.package_archive, name="package_archive"),
    path("packages/<int:pk>/restore/", views.package_restore, name="package_restore"),
    path("services/", views.service_list, name="services"),
    path("services/add/", views.service_add, name="service_add"),
    path("services/<int:pk>/edit/", views.service_edit, name="service_edit"),
    path("services/<int:pk>/archive/", views.service_archive, name="service_archive"),
    path("services/<int:pk>/restore/", views.service_restore, name="service_restore"),
    path("categories/", views.category_list, name="categories"),
    path("categories/add/", views.category_add, name="category_add"),
    path("categories/<int:pk>/edit/", views.category_edit, name="category_edit"),
]
