from django.core.management.base import BaseCommand

from privacy.audit import checkpoints


class Command(BaseCommand):
    help = (
        "Sign the audit log's current head and count (HMAC, key from the keyring) and append "
        "it to the checkpoint file outside the database. Run it from cron, e.g. hourly."
    )

    def handle(self, *args, **options):
        record = checkpoints.write_checkpoint()
        self.stdout.write(
            f"Checkpoint at entry {record['seq']} ({record['hash'][:16]}…) written to "
            f"{checkpoints.checkpoint_path()}."
        )
