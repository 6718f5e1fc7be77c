from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.core import context
from privacy.desks import retention
from privacy.desks.models import RetentionBatch


class Command(BaseCommand):
    help = (
        "Retention: --dry-run prints how many customers and closed orders are due (counts "
        "only, writes nothing); --propose --as USERNAME makes a batch for a second staff member to "
        "approve in the app; --purge REFERENCE finishes an approved batch whose purge was "
        "interrupted. Nothing is erased without a second staff member's approval."
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
                _(
                    "Batch %(ref)s proposed: %(customers)s customers to erase, %(orders)s closed "
                    "orders to clear. A second staff member approves it in the app (Retention)."
                )
                % {
                    "ref": batch.reference,
                    "customers": batch.customer_count,
                    "orders": batch.order_count,
                }
            )
            return
        batch = RetentionBatch.objects.filter(reference=purge.strip().upper()).first()
        if batch is None:
            raise CommandError(_("No retention batch %(ref)s.") % {"ref": purge})
        with context.scope(actor=batch.decided_by):
            try:
                done = retention.purge(batch_id=batch.pk)
            except retention.RetentionError as error:
                raise CommandError(str(error)) from None
        self.stdout.write(
            _(
                "Batch %(ref)s done: %(erased)s customers erased, %(kept)s kept; %(cleared)s "
                "orders cleared, %(orders_kept)s kept."
            )
            % {
                "ref": done.reference,
                "erased": done.customers_erased,
                "kept": done.customers_kept,
                "cleared": done.orders_cleared,
                "orders_kept": done.orders_kept,
            }
        )

    def _user(self, username):
        if not username:
            raise CommandError(_("Give the manager proposing the batch: --as USERNAME."))
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(_("No active staff account %(name)s.") % {"name": username})
        return user

    def _dry_run(self):
        found = retention.summary()
        day = "%Y-%m-%d"
        write = self.stdout.write
        write(
            _("Retention dry run, %(now)s: nothing is changed.")
            % {"now": f"{timezone.localtime(found['now']):%Y-%m-%d %H:%M}"}
        )
        write(
            _(
                "Customers due for erasure: %(count)s (no open order or request; last order "
                "closed, or recorded, before %(cutoff)s)"
            )
            % {
                "count": found["customers"],
                "cutoff": timezone.localtime(found["customer_cutoff"]).strftime(day),
            }
        )
        for month, count in found["customers_by_month"]:
            write(_("  last activity %(month)s: %(count)s") % {"month": month, "count": count})
        write(
            _("  their closed orders, cleared with them: %(count)s")
            % {"count": found["orders_of_erased"]}
        )
        write(
            _(
                "Closed orders whose details are due to be cleared: %(count)s (closed before "
                "%(cutoff)s)"
            )
            % {
                "count": found["orders"],
                "cutoff": timezone.localtime(found["order_cutoff"]).strftime(day),
            }
        )
        for month, count in found["orders_by_month"]:
            write(_("  closed %(month)s: %(count)s") % {"month": month, "count": count})
