from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from privacy.audit import chain as audit_chain
from privacy.audit import checkpoints
from privacy.audit.models import AuditVerification


class Command(BaseCommand):
    help = (
        "Walk the audit log's hash chain and check the signed checkpoints. Exits non-zero "
        "naming the first broken entry."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoints",
            dest="checkpoint_file",
            help="Checkpoint file (default: BOOKSHOP_AUDIT_CHECKPOINTS).",
        )

    def handle(self, *args, checkpoint_file=None, **options):
        try:
            signed = checkpoints.read_checkpoints(
                Path(checkpoint_file) if checkpoint_file else None
            )
        except checkpoints.CheckpointError as exc:
            self._save(audit_chain.Verification(False, 0, 0, "", str(exc)))
            raise CommandError(f"Audit log NOT verified: {exc}.") from None
        result = audit_chain.verify(checkpoints=signed)
        self._save(result)
        if not result.ok:
            raise CommandError(f"Audit log BROKEN at entry {result.broken_seq}: {result.problem}.")
        self.stdout.write(
            f"Audit log verified: {result.entries} entries, head {result.head_seq} "
            f"{result.head_hash[:16]}…, {len(signed)} checkpoints."
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
