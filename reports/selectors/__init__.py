"""Reports: read-only figures computed from the other apps' tables (issue 15).

One module per report; the pages, their CSVs and the API call the functions named here,
so each report's figures come from one place.
"""

from reports.selectors.expiring import (
    EXPIRING_WITHIN_DAYS,
    expiring_packages,
    recently_expired_packages,
)
from reports.selectors.liability import Amount, Liability, package_liability
from reports.selectors.receivables import (
    AGE_BUCKETS,
    AgedReceivables,
    BucketTotal,
    aged_receivables,
)

__all__ = [
    "AGE_BUCKETS",
    "EXPIRING_WITHIN_DAYS",
    "AgedReceivables",
    "Amount",
    "BucketTotal",
    "Liability",
    "aged_receivables",
    "expiring_packages",
    "package_liability",
    "recently_expired_packages",
]
