from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from privacy import context, retention
from privacy.models import RetentionBatch


class Command(BaseCommand):
    help = (
        "Retention: --dry-run prints how many customers and closed orders are due (counts "
        "only, writes nothing); --propose --as USERNAME makes a batch for a second manager to "
        "approve in the app; --purge REFERENCE finishes an approved batch whose purge was "
        "interrupted. Nothing is erased without a second manager's approval."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--dry-run", action="store_true", help="Counts only; change nothing.")
        group.add_argument("--propose", action="store_true", help="Propose a batch (with --as).")
        group.add_argument("--purge", metavar="REFERENCE", help="Finish an approved batch.")
        parser.add_argument("--as", dest="username", help="The manager proposing the batch.")

    def handle(self, *args, dry_run=False, propose=False, purge=None, username=None, **options):
        if dry_run:
            self._dry_run()
            return
        if propose:
            user = self._user(username)
            with context.scope(actor=user):
                try:
                    batch = retention.propose(by=user)
                except retention.RetentionError as error:
                    raise CommandError(str(error)) from None
            self.stdout.write(
                f"Batch {batch.reference} proposed: {batch.customer_count} customers to erase, "
                f"{batch.order_count} closed orders to clear. A second manager approves it in "
                "the app (Retention)."
            )
            return
        batch = RetentionBatch.objects.filter(reference=purge.strip().upper()).first()
        if batch is None:
            raise CommandError(f"No retention batch {purge}.")
        with context.scope(actor=batch.decided_by):
            try:
                done = retention.purge(batch_id=batch.pk)
            except retention.RetentionError as error:
                raise CommandError(str(error)) from None
        self.stdout.write(
            f"Batch {done.reference} done: {done.customers_erased} customers erased, "
            f"{done.customers_kept} kept; {done.orders_cleared} orders cleared, "
            f"{done.orders_kept} kept."
        )

    def _user(self, username):
        if not username:
            raise CommandError("Give the manager proposing the batch: --as USERNAME.")
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active staff account {username}.")
        return user

    def _dry_run(self):
        found = retention.summary()
        day = "%Y-%m-%d"
        write = self.stdout.write
        write(
            f"Retention dry run, {timezone.localtime(found['now']):%Y-%m-%d %H:%M}: "
            "nothing is changed."
        )
        write(
            f"Customers due for erasure: {found['customers']} "
            f"(no open order or request; last order closed, or recorded, before "
            f"{timezone.localtime(found['customer_cutoff']).strftime(day)})"
        )
        for month, count in found["customers_by_month"]:
            write(f"  last activity {month}: {count}")
        write(f"  their closed orders, cleared with them: {found['orders_of_erased']}")
        write(
            f"Closed orders whose details are due to be cleared: {found['orders']} "
            f"(closed before {timezone.localtime(found['order_cutoff']).strftime(day)})"
        )
        for month, count in found["orders_by_month"]:
            write(f"  closed {month}: {count}")
