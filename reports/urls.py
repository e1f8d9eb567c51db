from django.urls import path

from reports.views import index, liability, receivables, sales

app_name = "reports"
# Each report's module lists its own paths.
urlpatterns = [
    path("", index, name="index"),
    *liability.urlpatterns,
    *receivables.urlpatterns,
    *sales.urlpatterns,
]
