from django.core.management.base import BaseCommand

from privacy.audit import checkpoints


class Command(BaseCommand):
    help = (
        "Sign the audit log's current head and count (HMAC, the active audit key from the "
        "keyring, named on the line) and append it to the checkpoint file outside the "
        "database. Run it from cron, e.g. hourly, and copy the file off the server."
    )

    def handle(self, *args, **options):
        record = checkpoints.write_checkpoint()
        self.stdout.write(
            f"Checkpoint at entry {record['seq']} ({record['hash'][:16]}…) signed with "
            f"{record['key']} written to {checkpoints.checkpoint_path()}."
        )
