"""``erasure status C-XXXXXXXX``: when a customer's erasure became final, in the live database
and in every backup. ``erasure ledger [--repair]``: check the erasure ledger line by line;
with --repair, write the lines of committed erasures it lacks. Never prints personal data."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from privacy.desks import erasure
from privacy.ops import erasure_date
from privacy.ops.backup import BackupError


class Command(BaseCommand):
    help = (
        "Erasures: `status C-XXXXXXXX` (erased in the live database on …; unreadable in every "
        "backup from …), `ledger [--repair]` (check the erasure ledger)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="When this customer's erasure is final.")
        status.add_argument("reference", help="The customer's reference, C-XXXXXXXX.")
        ledger = sub.add_parser("ledger", help="Check the erasure ledger.")
        ledger.add_argument(
            "--repair",
            action="store_true",
            help="Write the lines of committed erasures the ledger lacks.",
        )

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_status(self, reference, **options):
        customer = erasure_date.find_customer(reference)
        if customer is None:
            raise CommandError(f"No single customer has the reference {reference}.")
        try:
            status = erasure_date.erasure_status(customer)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        if status.erased_at is None:
            self.stdout.write(f"{status.reference} is not erased.")
            return
        erased_on = timezone.localtime(status.erased_at)
        self.stdout.write(
            f"{status.reference}: erased in the live database on {erased_on:%Y-%m-%d %H:%M}; "
            f"unreadable in every backup from {status.unreadable_in_backups_from:%Y-%m-%d}."
        )
        for key in status.keys:
            if key.overdue:
                self.stdout.write(
                    f"  That date has passed, but key {key.key_id} is still in the keyring: "
                    f"old backups holding this customer can still be opened with it. Retire "
                    f"it: python manage.py keys retire {key.key_id}"
                )
            elif key.in_keyring:
                self.stdout.write(
                    f"  Waits for: key {key.key_id}, to be retired from "
                    f"{timezone.localtime(key.retire_from):%Y-%m-%d} (`keys retire`)."
                )
        if status.overdue:
            raise CommandError(
                "Retirement overdue: "
                + "; ".join(f"python manage.py keys retire {k.key_id}" for k in status.overdue)
            )

    def handle_ledger(self, repair, **options):
        try:
            lines = erasure.read_ledger()
        except erasure.LedgerError as exc:
            raise CommandError(f"The erasure ledger cannot be trusted: {exc}.") from None
        self.stdout.write(f"Erasure ledger {erasure.ledger_path()}: {len(lines)} lines verified.")
        if repair:
            added = erasure.repair_ledger()
            self.stdout.write(f"Wrote {len(added)} missing lines: {', '.join(added) or '-'}.")
