"""`python manage.py check_ledger`: prove every package's counters equal its ledger, every
appointment link matches its consumes, and no ledger row was changed (the hash chain)."""

from django.core.management.base import BaseCommand, CommandError

from packages.models import ClientPackage
from packages.selectors import ledger_discrepancies


class Command(BaseCommand):
    help = (
        "Verify that every client package's Credits, Consumed and Remaining equal its "
        "ledger, that every linked appointment has exactly one net consume (and every "
        "unlinked one none), and that every ledger row follows its hash chain."
    )

    def handle(self, *args, **options):
        total = ClientPackage.objects.count()
        found = ledger_discrepancies()
        for item in found:
            self.stderr.write(str(item))
        if found:
            raise CommandError(f"{len(found)} difference(s) found in the ledger (listed above).")
        self.stdout.write(self.style.SUCCESS(f"All {total} client packages agree with the ledger."))
