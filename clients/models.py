"""Clients: the people the practice treats."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper

from kernel.audit import audited
from kernel.changes import updated_at_trigger
from kernel.rowcount import RowCounter


def full_name(first_name: str, last_name: str) -> str:
    """A client's name as shown everywhere (`Client.full_name`, and lists read as tuples)."""
    return f"{first_name} {last_name}".strip()


@audited()
class Client(models.Model):
    """A person the practice treats. Archived clients cannot be booked or sold packages."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    # Issue 14: appointment confirmations and reminders are not emailed to this client
    # (documents staff choose to send, such as an invoice, still are).
    email_opt_out = models.BooleanField(
        "No email",
        default=False,
        help_text="Send this client no appointment confirmations or reminders.",
    )
    phone = models.CharField(max_length=40, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)  # + trigger (kernel.changes)

    class Meta:
        triggers = [updated_at_trigger()]
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"], name="client_name_order"),
            # Trigram indexes make "search as you type" on any part of a name, email or
            # phone use an index instead of scanning every client.
            GinIndex(
                OpClass(Upper("first_name"), name="gin_trgm_ops"), name="client_first_name_trgm"
            ),
            GinIndex(
                OpClass(Upper("last_name"), name="gin_trgm_ops"), name="client_last_name_trgm"
            ),
            GinIndex(OpClass(Upper("email"), name="gin_trgm_ops"), name="client_email_trgm"),
            GinIndex(OpClass(Upper("phone"), name="gin_trgm_ops"), name="client_phone_trgm"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name)


class AccessVia(models.TextChoices):
    PAGE = "page", "Staff pages"
    API = "api", "API"
    ADMIN = "admin", "Django admin"


class ClientAccess(models.Model):
    """One viewing of a client's record by a staff member (health data: who looked, when,
    from where, and through what: the staff pages, the API or the Django admin).
    Append-only, enforced by the database."""

    client = models.ForeignKey(
        Client,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="accesses",
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    path = models.CharField(max_length=500)
    via = models.CharField(max_length=10, choices=AccessVia.choices, default=AccessVia.PAGE)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "client accesses"
        indexes = [models.Index(fields=["client", "-at"], name="client_access_client")]
        triggers = [
            pgtrigger.Protect(
                name="client_access_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} viewed {self.client_id} at {self.at:%Y-%m-%d %H:%M}"


class ClientCount(RowCounter):
    """How many clients there are, kept by database triggers (kernel.rowcount): the sum
    of `n` over the slots. The API's unfiltered client list reads it instead of counting
    every client."""

    counted = "clients"
