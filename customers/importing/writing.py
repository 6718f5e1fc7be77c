"""Writing: the manager's import, in one transaction, the way the counter writes a new
customer but in batches; and the rejects file, mode 0600."""

import contextlib
import csv
import os
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.importing.checking import Reject, RowForm, check_row, without_duplicates
from customers.importing.columns import resolve_columns
from customers.importing.reading import ImportRefused, cell_text, read_table
from customers.importing.report import ImportReport
from customers.models import Customer
from privacy.access import grants as access
from privacy.access.models import GrantKind
from privacy.audit import log as audit
from privacy.core import context
from privacy.core.dates import months_before
from privacy.staff import roles
from privacy.vault import datakeys


def check_actor(actor) -> None:
    """Imports are a manager's act, made in their name in the audit log and the grants."""
    from privacy.staff.models import StaffProfile

    if actor is None or not actor.is_active or not roles.has_role(actor, roles.MANAGER):
        raise ImportRefused(_("Only an active manager may import customers."))
    profile = StaffProfile.objects.filter(user=actor).first()
    if profile and profile.valid_until and profile.valid_until < timezone.localdate():
        raise ImportRefused(_("Only an active manager may import customers."))


def _write(customers: list, *, actor, reference: str, batch_size: int) -> None:
    """Insert the customers as the counter would, in batches: data keys, encrypted rows and
    blind indexes, the write log, the counter team's grant."""
    team = access.counter_team()
    reason = _("Imported from a spreadsheet")
    for start in range(0, len(customers), batch_size):
        batch = customers[start : start + batch_size]
        datakeys.create_many(batch)
        Customer.objects.bulk_create(batch)
        audit.record_many(audit.created_entries(batch, actor=actor, data={"import": reference}))
        access.grant_many_to_team(
            batch,
            team=team,
            reason=reason,
            by=actor,
            kind=GrantKind.MANUAL,
            expires_at=counter_access_ends(),
        )


def counter_access_ends():
    """The counter team sees an imported customer for as long as retention would keep a
    customer who ordered today; their next order grants access as any order does. A grant
    without end would leave 7,000 people visible to every clerk for ever."""
    return months_before(timezone.now(), -settings.BOOKSHOP_RETENTION_CUSTOMER_MONTHS)


def _prepare_rejects_path(rejects_path, source: Path) -> Path:
    path = Path(rejects_path)
    if path.exists():
        raise ImportRefused(
            _("%(path)s already exists; name a new file for the rejected rows.") % {"path": path}
        )
    if path.resolve() == source.resolve():
        raise ImportRefused(_("The rejects file cannot be the file being imported."))
    folder = path.resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ImportRefused(_("Cannot write in %(folder)s.") % {"folder": folder})
    return path


def write_rejects(path: Path, header, rejected: list) -> None:
    """The rejected rows as they were, after their line and reasons, in UTF-8 CSV (Excel
    opens it; the import reads it back). Created with mode 0600: it holds personal data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([_("line"), _("reasons"), *(cell_text(h) for h in header)])
        for line, cells, reasons in rejected:
            writer.writerow([line, " / ".join(reasons), *(cell_text(c) for c in cells)])


def import_customers(
    path,
    *,
    mapping: dict | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    rejects_path=None,
    actor,
    sheet: str | None = None,
    batch_size: int = 500,
) -> ImportReport:
    """Import the customers of a CSV or .xlsx file in the name of ``actor`` (a manager).

    Every row is checked first. A real run writes in one transaction: all rows, or none
    when any is invalid; with ``skip_invalid``, the valid rows, and the rejected ones go to
    ``rejects_path`` (if given). ``dry_run`` checks and reports and writes nothing."""
    started = time.perf_counter()
    source = Path(path)
    check_actor(actor)
    if rejects_path is not None and not skip_invalid:
        raise ImportRefused(_("--rejects goes with --skip-invalid."))
    if rejects_path is not None:
        rejects_path = _prepare_rejects_path(rejects_path, source)
    table = read_table(source, encoding=encoding, sheet=sheet)
    columns = resolve_columns(table.header, mapping)
    report = ImportReport(
        reference=f"IMP-{uuid.uuid4().hex[:8].upper()}",
        encoding=table.encoding,
        rows=len(table.rows),
        ignored_columns=columns.ignored,
        notes=columns.notes,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
    )
    scope = contextlib.nullcontext() if context.current() else context.scope(actor=actor)
    with scope:
        accepted, reasons_by_line, form = [], {}, RowForm()
        for line, cells in table.rows:
            customer, problems = check_row(cells, columns, form)
            if customer is None:
                for column, reason in problems:
                    report.rejects.append(Reject(line, column, reason))
                    reasons_by_line.setdefault(line, []).append(f"{column}: {reason}")
            else:
                accepted.append((line, customer))
        accepted = without_duplicates(accepted, report, reasons_by_line, columns, actor=actor)
        report.accepted_lines = [line for line, _customer in accepted]
        if not dry_run and not report.refused and accepted:
            customers = [customer for _line, customer in accepted]
            with transaction.atomic():
                _write(customers, actor=actor, reference=report.reference, batch_size=batch_size)
                audit.record(
                    "customers.import.completed",
                    actor=actor,
                    data={
                        "import": report.reference,
                        "imported": len(customers),
                        "rejected": len(report.rejected_lines),
                    },
                )
            report.imported = len(customers)
            report.customer_ids = [c.pk for c in customers]
    if rejects_path is not None and not dry_run and reasons_by_line:
        rows = dict(table.rows)
        write_rejects(
            rejects_path,
            table.header,
            [(line, rows[line], reasons) for line, reasons in sorted(reasons_by_line.items())],
        )
        report.rejects_path, report.rejects_written = rejects_path, len(reasons_by_line)
    report.elapsed = time.perf_counter() - started
    return report
