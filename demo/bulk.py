"""Packages for the clients beyond the first few hundred (large `--clients` values): a
share of them hold one, sold some time in the past 18 months with nothing used yet.

Each sale is `packages.services.client_package_snapshot`, the same builder
`client_package_assign` saves, so the bulk rows are exactly what a sale writes (the
client package, its services and the GRANT ledger rows) and `check_ledger` holds; only
the saving is batched with `bulk_create`.
"""

from __future__ import annotations

import datetime as dt

from clients.models import Client
from demo.context import Demo, progress
from demo.data import EXTRA_PACKAGE_SHARE, PACKAGES
from demo.reference import Reference
from packages.models import ClientPackage, ClientPackageService, CreditLedgerEntry
from packages.services import client_package_snapshot


def sell_packages_in_bulk(demo: Demo, ref: Reference, clients: list[Client]) -> str:
    """Sell a package to a share of `clients`, in batches; return a summary."""
    if not clients:
        return "none (no clients beyond the first few hundred)"
    rng = demo.rng
    sellable = [ref.packages[spec.name] for spec in PACKAGES if not spec.archived]
    included = {
        package.pk: list(package.package_services.select_related("service").order_by("id"))
        for package in sellable
    }
    # Archived clients were sold their packages before they left; fine either way.
    holders = [client for client in clients if rng.random() < EXTRA_PACKAGE_SHARE]
    total = 0
    with progress(total=len(holders), desc="Bulk packages", unit="package") as bar:
        for start in range(0, len(holders), demo.batch):
            sales, services, grants = [], [], []
            for client in holders[start : start + demo.batch]:
                package = rng.choice(sellable)
                sale, sale_services, sale_grants = client_package_snapshot(
                    client=client,
                    package=package,
                    included=included[package.pk],
                    start_date=demo.today - dt.timedelta(days=rng.randrange(0, 540)),
                )
                sales.append(sale)
                services.extend(sale_services)
                grants.extend(sale_grants)
            ClientPackage.objects.bulk_create(sales, batch_size=demo.batch)
            ClientPackageService.objects.bulk_create(services, batch_size=demo.batch)
            CreditLedgerEntry.objects.bulk_create(grants, batch_size=demo.batch)
            total += len(sales)
            bar.update(len(sales))
    return f"{total} client packages for {len(clients)} more clients"
