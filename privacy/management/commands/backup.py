from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from privacy.ops import backup


class Command(BaseCommand):
    help = (
        "Write an encrypted, authenticated backup of the database (--output FILE), or check "
        "one without restoring it (--verify FILE). The keyring is never inside a backup."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--output", help="Where to write the backup (a new file).")
        group.add_argument("--verify", help="A backup to check.")

    def handle(self, *args, output=None, verify=None, **options):
        try:
            if verify:
                manifest, _data = backup.open_backup(Path(verify))
                self.stdout.write(f"Backup {verify} is intact: {self._describe(manifest)}")
                return
            if Path(output).exists():
                raise CommandError(f"{output} exists; refusing to overwrite it.")
            manifest = backup.create(Path(output))
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Backup written to {output} (mode 600): {self._describe(manifest)}")

    @staticmethod
    def _describe(manifest) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in manifest["counts"].items())
        checksum = manifest["sha256"][:16]
        return f"{manifest['vendor']}, {manifest['created_at']}, {counts}, sha256 {checksum}…"
