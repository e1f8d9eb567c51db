"""The demo's clients (Faker, seeded): the first `demo.rich_clients` through
`client_create`, since they get a history; the rest, up to 100,000 or more, by bulk
insert in batches (plain fields only, a few of them archived former clients)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from clients.models import Client
from clients.services import client_create
from demo.context import Demo, progress
from demo.data import CLIENT_NOTES

DOMAINS = ["example.com", "example.net", "example.org"]


def add_clients(demo: Demo, count: int) -> list[Client]:
    """Create `count` clients, returned in creation (pk) order."""
    rng = demo.rng
    first_names = [demo.faker.first_name() for _ in range(800)]
    last_names = [demo.faker.last_name() for _ in range(800)]

    def values(n: int) -> dict[str, Any]:
        first, last = rng.choice(first_names), rng.choice(last_names)
        slug = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        return {
            "first_name": first,
            "last_name": last,
            "email": f"{slug}{n}@{rng.choice(DOMAINS)}" if rng.random() < 0.9 else "",
            "phone": f"04{rng.randrange(10**2):02d} {rng.randrange(10**3):03d} "
            f"{rng.randrange(10**3):03d}",
            "date_of_birth": dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 70)),
            "notes": rng.choice(CLIENT_NOTES) if rng.random() < 0.15 else "",
        }

    clients: list[Client] = []
    with progress(total=count, desc="Clients", unit="client") as bar:
        for n in range(min(count, demo.rich_clients)):
            clients.append(client_create(**values(n), by=None))
            bar.update()
        for start in range(len(clients), count, demo.batch):
            batch = [
                # A few former clients; the ones with a history are all current.
                Client(**values(n), archived=rng.random() < 0.03)
                for n in range(start, min(start + demo.batch, count))
            ]
            clients.extend(Client.objects.bulk_create(batch, batch_size=demo.batch))
            bar.update(len(batch))
    return clients
