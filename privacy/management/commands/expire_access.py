from django.core.management.base import BaseCommand

from privacy.access import grants as access
from privacy.core import context
from privacy.desks import records


class Command(BaseCommand):
    help = (
        "End the access grants whose time has come (run from cron; reads also do this) and "
        "deactivate the accounts of contractors whose contract has ended."
    )

    def handle(self, *args, **options):
        with context.scope():
            count = access.expire_due()
            ended = records.deactivate_ended_contracts()
        self.stdout.write(f"Ended {count} access grants.")
        self.stdout.write(f"Deactivated {ended} accounts whose contractor's contract ended.")
