from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from privacy.ops import backup
from privacy.vault.keyring import KeyringError


def _day(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _date(iso: str) -> str:
    """The shop's date (BOOKSHOP_TIME_ZONE) of a manifest's timestamp, as `keys` prints it."""
    if not iso:
        return ""
    return f"{timezone.localtime(datetime.fromisoformat(iso)):%Y-%m-%d}"


class Command(BaseCommand):
    help = (
        "Write an encrypted, authenticated backup of the database into BOOKSHOP_BACKUP_DIR "
        "(or --output FILE), check one without restoring it (--verify FILE), or delete the "
        "expired backups in BOOKSHOP_BACKUP_DIR (--prune). The keyring is never inside a backup."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--output", help="Where to write the backup (a new file).")
        group.add_argument("--verify", help="A backup to check.")
        group.add_argument(
            "--prune",
            action="store_true",
            help="Delete the backups in BOOKSHOP_BACKUP_DIR that expired "
            "(BOOKSHOP_BACKUP_KEEP_DAYS), and say which are kept until when.",
        )

    def handle(self, *args, output=None, verify=None, prune=False, **options):
        try:
            if verify:
                manifest, _data = backup.open_backup(Path(verify))
                self.stdout.write(f"Backup {verify} is intact: {self._describe(manifest)}")
                return
            if prune:
                self._prune()
                return
            if output and Path(output).exists():
                raise CommandError(f"{output} exists; refusing to overwrite it.")
            manifest = backup.create(Path(output) if output else None)
        except (backup.BackupError, KeyringError) as exc:
            raise CommandError(str(exc)) from None
        written = Path(manifest["path"])
        self.stdout.write(f"Backup written to {written} (mode 600): {self._describe(manifest)}")
        if backup.backup_dir().resolve() not in written.resolve().parents:
            self.stdout.write(
                f"It is outside BOOKSHOP_BACKUP_DIR ({backup.backup_dir()}): `backup --prune` "
                "will not delete it and `keys retire` does not know it; delete it yourself by "
                f"{_date(manifest['expires_at'])}."
            )

    def _prune(self):
        scanned = backup.scan()
        deleted = backup.prune(scanned=scanned)
        directory = backup.backup_dir()
        dead = {u.path for u in scanned.unreadable if u.retired_key}
        for found in scanned.expired:
            self.stdout.write(
                f"Deleted {found.path.name} (made {_day(found.created_at)}, expired "
                f"{_day(found.expires_at)})."
            )
        for unreadable in scanned.unreadable:
            if unreadable.path in dead:
                self.stdout.write(
                    f"Deleted {unreadable.path.name}: sealed with backup key "
                    f"{unreadable.retired_key}, which was retired; it could not be opened."
                )
        for found in scanned.kept:
            self.stdout.write(
                f"Kept {found.path.name} (made {_day(found.created_at)}) until "
                f"{_day(found.expires_at)}."
            )
        self.stdout.write(
            f"{len(deleted)} backup(s) deleted, {len(scanned.kept)} kept in {directory}."
        )
        problems = [u for u in scanned.unreadable if u.path not in dead]
        if problems:
            lines = "\n".join(f"  {u.path}: {u.reason}" for u in problems)
            raise CommandError(
                f"These files in {directory} cannot be opened and were left alone:\n{lines}"
            )

    @staticmethod
    def _describe(manifest) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in manifest["counts"].items())
        checksum = manifest["sha256"][:16]
        expires = _date(manifest.get("expires_at", ""))
        return (
            f"{manifest['vendor']}, {manifest['created_at']}, {counts}, sha256 {checksum}…, "
            f"backup key {manifest.get('backup_key_id')}, kept until {expires}"
        )
