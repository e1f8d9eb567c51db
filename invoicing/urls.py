from django.urls import path

from invoicing import views

app_name = "invoicing"
urlpatterns = [
    path("", views.invoice_list, name="list"),
    path("new/", views.invoice_new, name="new"),
    path("<int:pk>/", views.invoice_detail, name="detail"),
    path("<int:pk>/print/", views.invoice_print, name="print"),
    path("<int:pk>/edit/", views.invoice_edit, name="edit"),
    path("<int:pk>/lines/add/", views.line_add, name="line_add"),
    path("<int:pk>/lines/from-catalog/", views.line_from_catalog, name="line_from_catalog"),
    path("<int:pk>/lines/<int:line_pk>/edit/", views.line_edit, name="line_edit"),
    path("<int:pk>/lines/<int:line_pk>/remove/", views.line_remove, name="line_remove"),
    path("<int:pk>/finalize/", views.invoice_finalize, name="finalize"),
    path("<int:pk>/delete/", views.invoice_delete, name="delete"),
    path("<int:pk>/void/", views.invoice_void, name="void"),
    path("<int:pk>/pay/", views.invoice_pay, name="pay"),
    path("<int:pk>/credit-note/", views.invoice_credit_note, name="credit_note"),
    path("payments/<int:pk>/refund/", views.payment_refund, name="payment_refund"),
    path("payments/<int:pk>/void/", views.payment_void, name="payment_void"),
]
