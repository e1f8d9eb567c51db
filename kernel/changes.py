"""`updated_at`: when a row was last changed, kept by PostgreSQL.

A BEFORE UPDATE trigger sets it on every UPDATE that changes the row, whether from
`save()`, a queryset's `.update()` or raw SQL, so `?updated_since=` on the API's lists
never misses a change. (Rows that belong to a parent, such as an invoice's payments,
keep their own time: the parent's list filter looks at them too.) The time is the statement's (`clock_timestamp()`, not the transaction's start, so a
row created and then changed in one transaction is not stamped before its creation). A
change is visible only once its transaction commits, a moment after its time, which is
why docs/api.md tells integrators to sync from a few minutes before their last sync.
"""

from __future__ import annotations

import pgtrigger


def updated_at_trigger() -> pgtrigger.Trigger:
    """On the model's Meta.triggers: `updated_at` set on every UPDATE that changes the row."""
    return pgtrigger.Trigger(
        name="touch_updated_at",
        when=pgtrigger.Before,
        operation=pgtrigger.Update,
        condition=pgtrigger.Condition("OLD.* IS DISTINCT FROM NEW.*"),
        func="NEW.updated_at = clock_timestamp(); RETURN NEW;",
    )
