"""`/api/v1/reports/...`: the reports' figures in JSON (Admin and Accountant). Each calls
the same selector as its page, so the page, its CSV and the API give the same numbers.
One module per report, each listing its own paths (under `v1/reports/`)."""

from reports.api import expiring, liability, receivables, revenue, sales

urlpatterns = [
    *liability.urlpatterns,
    *expiring.urlpatterns,
    *sales.urlpatterns,
    *receivables.urlpatterns,
    *revenue.urlpatterns,
]
