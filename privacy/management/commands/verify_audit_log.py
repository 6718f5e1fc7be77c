from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from privacy.audit import checkpoints
from privacy.audit.models import AuditVerification


def _when(text: str) -> str:
    try:
        from datetime import datetime

        return f"{timezone.localtime(datetime.fromisoformat(text)):%Y-%m-%d %H:%M}"
    except (TypeError, ValueError):
        return str(text)


class Command(BaseCommand):
    help = (
        "Walk the audit log's hash chain and check the signed checkpoints. Exits non-zero "
        "naming the first broken entry. After a restore, says from which backup the database "
        "came and which older checkpoints that restore superseded."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoints",
            dest="checkpoint_file",
            help="Checkpoint file (default: BOOKSHOP_AUDIT_CHECKPOINTS).",
        )

    def handle(self, *args, checkpoint_file=None, **options):
        result, found = checkpoints.verify(Path(checkpoint_file) if checkpoint_file else None)
        self._save(result)
        if found.problem:
            raise CommandError(f"Audit log NOT verified: {found.problem}.")
        if not result.ok:
            raise CommandError(f"Audit log BROKEN at entry {result.broken_seq}: {result.problem}.")
        self.stdout.write(
            f"Audit log verified: {result.entries} entries, head {result.head_seq} "
            f"{result.head_hash[:16]}…, {len(found.strict)} checkpoints checked."
        )
        for line in found.restores:
            self.stdout.write(
                f"Restored from backup {line['backup']} (made {_when(line['backup_created_at'])}, "
                f"audit head {line['backup_head_seq']}) at {_when(line['at'])}: new checkpoint "
                f"lineage from entry {line['seq']}."
            )
        superseded: dict[int, list] = {}
        for record, by in found.superseded:
            superseded.setdefault(by["seq"], [by, []])[1].append(record)
        for by, records in superseded.values():
            self.stdout.write(
                f"{len(records)} checkpoints (entries {min(r['seq'] for r in records)}–"
                f"{max(r['seq'] for r in records)}) superseded by restore of {by['backup']} at "
                f"{_when(by['at'])}: they are beyond the head that backup brought back."
            )
        if found.foreign:
            self.stdout.write(
                f"{found.foreign} checkpoint lines belong to other databases (restored "
                "elsewhere) and were not checked."
            )

    @staticmethod
    def _save(result):
        AuditVerification.objects.create(
            ok=result.ok,
            entries=result.entries,
            head_seq=result.head_seq,
            head_hash=result.head_hash,
            problem=result.problem,
        )
