"""What every step of the demo shares: its random sources, "today", its sizes and a
progress bar."""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone
from faker import Faker
from tqdm import tqdm


@dataclass
class Demo:
    rng: random.Random
    faker: Faker
    today: dt.date
    now: dt.datetime
    rich_clients: int  # the first clients, who get a history through the services
    batch: int  # rows per bulk insert

    @classmethod
    def start(cls, *, seed: int, rich_clients: int, batch: int) -> Demo:
        faker = Faker("en_AU")
        faker.seed_instance(seed)
        return cls(
            rng=random.Random(seed),
            faker=faker,
            today=timezone.localdate(),
            now=timezone.now(),
            rich_clients=rich_clients,
            batch=batch,
        )


def progress(iterable: Iterable | None = None, **kwargs) -> tqdm:
    """A bar on a terminal (stderr), nothing when the output is a file or a pipe."""
    return tqdm(iterable, disable=None, file=sys.stderr, leave=False, **kwargs)
