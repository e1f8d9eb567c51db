"""The Reports area (Admin and Accountant, `reports.view_reports`): the landing page here,
one module per report (its page and CSV). Figures come from reports.selectors."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from kernel.web import render_page, staff_view
from reports.views.common import REPORTS_PERM


@staff_view(REPORTS_PERM)
def index(request: HttpRequest) -> HttpResponse:
    return render_page(request, "reports/index.html", {})
