from django.urls import path

from documents import views

app_name = "documents"
urlpatterns = [
    path("<slug:kind>/<int:pk>/", views.document_page, name="page"),
    path("<slug:kind>/<int:pk>/pdf/", views.document_download, name="pdf"),
    path("<slug:kind>/<int:pk>/email/", views.document_email, name="email"),
    path("invoice/<int:pk>/links/new/", views.invoice_link_create, name="link_create"),
    path("links/<int:pk>/revoke/", views.invoice_link_revoke, name="link_revoke"),
]
