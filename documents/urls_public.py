"""The public invoice pages (no sign-in): /d/<token>/ and its PDF."""

from django.urls import path

from documents import views

app_name = "public"
urlpatterns = [
    path("<str:token>/", views.public_invoice, name="invoice"),
    path("<str:token>/pdf/", views.public_invoice_pdf, name="invoice_pdf"),
]
