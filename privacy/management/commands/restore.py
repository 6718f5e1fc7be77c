from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from privacy.ops import backup, restore


class Command(BaseCommand):
    help = (
        "Restore an encrypted backup into an empty database (DATABASE_URL). Everything is "
        "checked first (the file, the engine, the empty target, every key the backup needs "
        "and the erasure ledger); then the snapshot is loaded, the ledger re-applied so that "
        "customers erased since the backup stay erased, and the restore recorded in the audit "
        "log (a new checkpoint lineage). Then run verify_audit_log."
    )
    requires_system_checks = []  # the database is empty until the restore is done

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        try:
            result = restore.restore(Path(file))
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Restored {file} ({result['created_at']}); re-applied "
            f"{result['reapplied_erasures']} erasures from the ledger; restore recorded at audit "
            f"entry {result['restore_line']['seq']}. Next: python manage.py verify_audit_log, "
            "then copy the checkpoint file off the server."
        )
