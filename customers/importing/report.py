"""The report of an import: row numbers, column headings and reasons, never a value."""

from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _


def _ranges(numbers) -> str:
    numbers = sorted(numbers)
    parts, start, previous = [], None, None
    for n in numbers:
        if start is None:
            start = previous = n
        elif n == previous + 1:
            previous = n
        else:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = previous = n
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ", ".join(parts)


@dataclass
class ImportReport:
    """What an import did. Row numbers, column headings and reasons only: no value."""

    reference: str
    encoding: str = ""
    rows: int = 0
    accepted_lines: list = field(default_factory=list)
    rejects: list = field(default_factory=list)  # Reject, several per line possible
    ignored_columns: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    dry_run: bool = False
    skip_invalid: bool = False
    imported: int = 0
    rejects_path: Path | None = None
    rejects_written: int = 0
    elapsed: float = 0.0
    customer_ids: list = field(default_factory=list)

    @property
    def rejected_lines(self) -> list[int]:
        return sorted({r.line for r in self.rejects})

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed if self.elapsed else 0.0

    @property
    def refused(self) -> bool:
        """A real run that imported nothing because rows were invalid."""
        return not self.dry_run and bool(self.rejects) and not self.skip_invalid

    def lines(self) -> list[str]:
        out = [
            _("Import %(ref)s: %(rows)s rows read (%(encoding)s).")
            % {"ref": self.reference, "rows": self.rows, "encoding": self.encoding}
        ]
        if self.ignored_columns:
            out.append(
                _("Columns not imported: %(columns)s")
                % {"columns": ", ".join(self.ignored_columns)}
            )
        out += self.notes
        out.append(
            _("Accepted: %(count)s rows (lines %(lines)s).")
            % {"count": len(self.accepted_lines), "lines": _ranges(self.accepted_lines) or "-"}
        )
        out.append(_("Rejected: %(count)s rows.") % {"count": len(self.rejected_lines)})
        for reject in sorted(self.rejects, key=lambda r: r.line):
            out.append(
                "  "
                + _("line %(line)s, %(column)s: %(reason)s")
                % {"line": reject.line, "column": reject.column, "reason": reject.reason}
            )
        if self.dry_run:
            out.append(_("Dry run: nothing was written."))
        elif self.refused:
            out.append(
                _(
                    "Nothing was imported: %(count)s rows are invalid. Correct them, or import "
                    "the valid rows alone with --skip-invalid."
                )
                % {"count": len(self.rejected_lines)}
            )
        else:
            out.append(
                _(
                    "Imported %(count)s customers, visible to the counter team. They have not "
                    "been told the purposes of use yet: their next order asks the clerk to tell "
                    "them."
                )
                % {"count": self.imported}
            )
        if self.rejects_written:
            out.append(
                _(
                    "The %(count)s rejected rows are in %(path)s (mode 0600, readable by you "
                    "alone). It holds personal data: delete it once they are corrected."
                )
                % {"count": self.rejects_written, "path": self.rejects_path}
            )
        out.append(
            _("%(rows)s rows in %(seconds).2f s (%(rate).0f rows/s).")
            % {"rows": self.rows, "seconds": self.elapsed, "rate": self.rows_per_second}
        )
        return out
