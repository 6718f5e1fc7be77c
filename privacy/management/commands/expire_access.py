from django.core.management.base import BaseCommand

from privacy.access import grants as access
from privacy.core import context


class Command(BaseCommand):
    help = "End the access grants whose time has come (run from cron; reads also do this)."

    def handle(self, *args, **options):
        with context.scope():
            count = access.expire_due()
        self.stdout.write(f"Ended {count} access grants.")
