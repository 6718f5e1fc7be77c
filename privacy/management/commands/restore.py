from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from privacy.ops import backup


class Command(BaseCommand):
    help = (
        "Restore an encrypted backup into an empty database (DATABASE_URL), then re-apply the "
        "erasure ledger so that customers erased since the backup stay erased."
    )
    requires_system_checks = []  # the database is empty until the restore is done

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        try:
            result = backup.restore(Path(file))
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Restored {file} ({result['created_at']}); re-applied "
            f"{result['reapplied_erasures']} erasures from the ledger."
        )
