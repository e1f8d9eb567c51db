from django.urls import path

from reports.views import expiring, index, liability, receivables, revenue, sales

app_name = "reports"
# Each report's module lists its own paths.
urlpatterns = [
    path("", index, name="index"),
    *liability.urlpatterns,
    *expiring.urlpatterns,
    *sales.urlpatterns,
    *receivables.urlpatterns,
    *revenue.urlpatterns,
]
