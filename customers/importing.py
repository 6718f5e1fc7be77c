"""Import customers from a spreadsheet: CSV (UTF-8 with or without BOM, or Shift_JIS/CP932 as
Japanese Excel saves it) or .xlsx.

Each row goes through the counter's own ``CustomerForm`` (the same normalization of
full-width digits and kana, the same checks), then repeated people are set aside, then the
good rows are written the way the counter writes a new customer (a data key each, encrypted
fields, blind indexes, a grant to the counter team, write-log entries) but in batches, so
that thousands of rows take seconds. A real run is one transaction.

Imported customers have no NoticeRecord: they have not been told the purposes yet, so their
next order asks the clerk to tell them (``purposes.needs_notice``). Their details were not
confirmed with them either (``last_confirmed_at`` is empty), so that order flags them too.

Duplicates: a row with the same phone number *and* the same reading (family and given
name in kana) as an earlier row, or as an existing customer, is the same person and is
rejected, naming the earlier line. The same phone with another reading (a household's
landline) is imported.

The report names rows by line number and columns by their heading, never a value: it goes
to a terminal and may end up in a ticket. The rejects file does hold the rejected rows (so
they can be corrected and imported again) and is created with mode 0600.
"""

import codecs
import contextlib
import csv
import io
import json
import os
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.forms import CustomerForm
from customers.models import Customer
from privacy.access import decisions
from privacy.access import grants as access
from privacy.access.models import GrantKind
from privacy.audit import log as audit
from privacy.core import context
from privacy.desks import retention
from privacy.staff import roles
from privacy.vault import blind_index, datakeys, normalize

FORM_FIELDS = tuple(CustomerForm.Meta.fields)
# One column holding both names, split at the first space.
SPLIT_FIELDS = {
    "full_name": ("family_name", "given_name"),
    "full_name_kana": ("family_name_kana", "given_name_kana"),
}
FIELDS = (*FORM_FIELDS, *SPLIT_FIELDS)
# Each tuple: a required field and the columns that may provide it.
REQUIRED = (("family_name", "full_name"), ("family_name_kana", "full_name_kana"), ("phone",))
# Mapped to one of these, a column is ignored.
IGNORE = ("", "-")

# Headings recognised without a mapping (compared after _heading_key), first column wins.
DEFAULT_HEADINGS = {
    "family_name": ["姓", "氏", "苗字", "名字", "family_name", "last_name", "surname"],
    "given_name": ["名", "given_name", "first_name"],
    "family_name_kana": [
        "セイ",
        "せい",
        "姓(カナ)",
        "姓フリガナ",
        "フリガナ(姓)",
        "family_name_kana",
        "last_name_kana",
    ],
    "given_name_kana": [
        "メイ",
        "めい",
        "名(カナ)",
        "名フリガナ",
        "フリガナ(名)",
        "given_name_kana",
        "first_name_kana",
    ],
    "full_name": ["氏名", "お名前", "お客様名", "名前", "full_name", "name"],
    "full_name_kana": ["フリガナ", "ふりがな", "氏名(カナ)", "カナ", "full_name_kana", "name_kana"],
    "phone": [
        "電話番号",
        "電話",
        "TEL",
        "携帯電話",
        "携帯",
        "phone",
        "telephone",
        "phone_number",
    ],
    "email": ["メール", "メールアドレス", "Eメール", "e-mail", "email", "mail"],
    "postal_code": ["郵便番号", "〒", "postal_code", "zip", "zip_code", "postcode"],
    "address": ["住所", "address"],
    "notes": ["備考", "メモ", "notes", "note", "memo"],
    "preferred_contact": ["連絡方法", "希望連絡方法", "preferred_contact"],
}

CONTACT_WORDS = {
    "電話": "phone",
    "tel": "phone",
    "phone": "phone",
    "メール": "email",
    "eメール": "email",
    "email": "email",
    "e-mail": "email",
    "店頭": "counter",
    "来店": "counter",
    "counter": "counter",
}

ENCODING_ALIASES = {
    # Excel's "Shift_JIS" is Microsoft's CP932 (NEC and IBM extensions: ①, ㈱, 髙).
    "shiftjis": "cp932",
    "sjis": "cp932",
    "ms932": "cp932",
    "windows31j": "cp932",
    "cp932": "cp932",
    "utf8": "utf-8-sig",
    "utf8sig": "utf-8-sig",
}


class ImportRefused(Exception):
    """The whole file cannot be imported (unreadable, unmapped, wrong actor); nothing was
    written. The message names columns and settings, never a value."""


# --- Reading --------------------------------------------------------------------------------


@dataclass
class Table:
    header: list
    rows: list  # (line number in the file, list of cell values)
    encoding: str


def _codec(name: str) -> str:
    key = name.lower().replace("-", "").replace("_", "")
    codec = ENCODING_ALIASES.get(key, name)
    try:
        codecs.lookup(codec)
    except LookupError:
        raise ImportRefused(_("Unknown encoding “%(encoding)s”.") % {"encoding": name}) from None
    return codec


def decode(raw: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Text and the encoding it was read with: the one given, else UTF-8 (with or without
    BOM), else CP932."""
    if encoding:
        codec = _codec(encoding)
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError as error:
            raise ImportRefused(
                _("The file is not valid %(encoding)s (byte %(position)s).")
                % {"encoding": encoding, "position": error.start}
            ) from None
    for codec in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            continue
    raise ImportRefused(
        _(
            "The file is neither UTF-8 nor Shift_JIS (CP932). Save it as “CSV UTF-8” from the "
            "spreadsheet, or name its encoding with --encoding."
        )
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise ImportRefused(_("Cannot read %(path)s.") % {"path": path}) from None


def _read_csv(path: Path, encoding: str | None) -> Table:
    text, used = decode(_read_bytes(path), encoding)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, rows, start = None, [], 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = cells
            else:
                rows.append((line, cells))
    except csv.Error:
        raise ImportRefused(
            _("The CSV cannot be read near line %(line)s: its quotes or separators do not match.")
            % {"line": reader.line_num}
        ) from None
    if header is None:
        raise ImportRefused(_("The file is empty."))
    labels = {"utf-8-sig": "UTF-8", "cp932": "Shift_JIS (CP932)"}
    return Table(header=header, rows=rows, encoding=labels.get(used, used))


def _read_xlsx(path: Path, sheet: str | None) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ImportRefused(_("The file cannot be read as an Excel workbook (.xlsx).")) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise ImportRefused(
                _("The workbook has no sheet “%(sheet)s”; its sheets: %(sheets)s.")
                % {"sheet": sheet, "sheets": ", ".join(book.sheetnames)}
            )
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        header, rows = None, []
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            cells = list(values)
            if not any(_cell_text(value).strip() for value in cells):
                continue
            if header is None:
                header = cells
            else:
                rows.append((number, cells))
    finally:
        book.close()
    if header is None:
        raise ImportRefused(_("The file is empty."))
    return Table(header=header, rows=rows, encoding="xlsx")


def read_table(path, *, encoding: str | None = None, sheet: str | None = None) -> Table:
    path = Path(path)
    if not path.is_file():
        raise ImportRefused(_("No such file: %(path)s") % {"path": path})
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    return _read_csv(path, encoding)


def _cell_text(value, field_name: str | None = None) -> str:
    """A cell as text. Excel stores a phone number typed as a number without its leading
    zero, and a postal code such as 060-0001 as 600001: both are put back."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        if field_name == "phone" and not text.startswith("0"):
            international = text.startswith("81") and len(text) in (11, 12)
            return ("+" if international else "0") + text
        if field_name == "postal_code" and 0 < len(text) < 7:
            return text.zfill(7)
        return text
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# --- Mapping columns to fields ---------------------------------------------------------------


def _heading_key(heading) -> str:
    """Headings compare without width, case, spaces, brackets, hyphens or underscores."""
    text = normalize.text(_cell_text(heading)).lower()
    return "".join(ch for ch in text if ch not in " ()[]【】_-・")


_DEFAULTS = {
    _heading_key(heading): name
    for name, headings in DEFAULT_HEADINGS.items()
    for heading in headings
}


def _field_label(name: str) -> str:
    if name == "full_name":
        return _("full name")
    if name == "full_name_kana":
        return _("full name (kana)")
    return str(Customer._meta.get_field(name).verbose_name)


@dataclass
class Columns:
    by_index: dict  # column index -> field name
    headings: dict  # field name -> heading as written
    ignored: list  # headings of unused columns
    notes: list

    def heading_for(self, name: str) -> str:
        """The column a field came from, for the report (a split name: the whole column)."""
        if name in self.headings:
            return self.headings[name]
        for whole, parts in SPLIT_FIELDS.items():
            if name in parts and whole in self.headings:
                return self.headings[whole]
        return _field_label(name) if name in FIELDS else _("(row)")


def parse_map_flags(flags) -> dict:
    """``--map 氏名=full_name`` flags as {heading: field}."""
    mapping = {}
    for flag in flags or ():
        heading, sep, name = flag.rpartition("=")
        if not sep or not heading.strip():
            raise ImportRefused(_("Write --map as COLUMN=FIELD, for example --map 氏名=full_name."))
        mapping[heading.strip()] = name.strip()
    return mapping


def load_mapping_file(path) -> dict:
    """A mapping file: a JSON object {"column": "field"}, or CSV lines ``column,field``."""
    path = Path(path)
    if not path.is_file():
        raise ImportRefused(_("No such file: %(path)s") % {"path": path})
    text, _encoding = decode(_read_bytes(path))
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or not all(isinstance(v, str | None) for v in data.values()):
            raise ImportRefused(
                _('A JSON mapping file holds one object: {"column": "field", ...}.')
            )
        return {str(k): v or "" for k, v in data.items()}
    mapping = {}
    for cells in csv.reader(io.StringIO(text, newline="")):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if len(cells) < 2:
            raise ImportRefused(_("Each line of a CSV mapping file is COLUMN,FIELD."))
        if cells[1].lower() in ("field", "項目"):
            continue  # the mapping file's own heading line
        mapping[cells[0]] = cells[1]
    return mapping


def _refuse_unknown_field(name: str) -> None:
    if name not in FIELDS and name not in IGNORE:
        raise ImportRefused(
            _("Unknown field “%(field)s”. Fields: %(fields)s (or nothing, to ignore a column).")
            % {"field": name, "fields": ", ".join(FIELDS)}
        )


def resolve_columns(header, mapping: dict | None = None) -> Columns:
    """Which column feeds which field: the mapping first, then the usual headings."""
    keys = [_heading_key(h) for h in header]
    mapped = {_heading_key(heading) for heading in (mapping or {})}
    # A heading is shown only when it is one we know or one the mapping names: a file without
    # a heading line has a customer in its first row, and that must not reach the report.
    written = [
        normalize.text(_cell_text(h))
        if key in _DEFAULTS or key in mapped
        else _("column %(number)s") % {"number": index + 1}
        for index, (h, key) in enumerate(zip(header, keys, strict=True))
    ]
    explicit = {}
    for heading, name in (mapping or {}).items():
        _refuse_unknown_field(name)
        key = _heading_key(heading)
        if key not in keys:
            raise ImportRefused(
                _("The mapping names a column the file lacks: “%(column)s”. Columns: %(columns)s.")
                % {"column": heading, "columns": ", ".join(written)}
            )
        explicit[key] = name
    by_field, ignored, notes = {}, [], []
    for index, key in enumerate(keys):  # the mapping
        name = explicit.get(key)
        if name is None or name in IGNORE:
            continue
        if name in by_field:
            raise ImportRefused(
                _("Two columns are mapped to %(field)s: “%(first)s” and “%(second)s”.")
                % {"field": name, "first": written[by_field[name]], "second": written[index]}
            )
        by_field[name] = index
    for index, key in enumerate(keys):  # the usual headings
        if key in explicit:
            if explicit[key] in IGNORE:
                ignored.append(written[index])
            continue
        name = _DEFAULTS.get(key)
        if name is None:
            if key:
                ignored.append(written[index])
            continue
        if name in by_field:
            ignored.append(written[index])
            notes.append(
                _(
                    "Column “%(column)s” also looks like %(field)s; “%(used)s” is used. Map it "
                    "with --map to choose otherwise."
                )
                % {"column": written[index], "field": name, "used": written[by_field[name]]}
            )
            continue
        by_field[name] = index
    for whole, parts in SPLIT_FIELDS.items():
        present = [p for p in parts if p in by_field]
        if whole not in by_field or not present:
            continue
        whole_explicit = keys[by_field[whole]] in explicit
        parts_explicit = any(keys[by_field[p]] in explicit for p in present)
        if whole_explicit and parts_explicit:
            raise ImportRefused(
                _("“%(whole)s” and “%(part)s” both give the name; map only one of them.")
                % {"whole": written[by_field[whole]], "part": written[by_field[present[0]]]}
            )
        dropped = present if whole_explicit else [whole]
        for name in dropped:
            ignored.append(written[by_field.pop(name)])
    missing = [alts[0] for alts in REQUIRED if not any(a in by_field for a in alts)]
    if missing:
        raise ImportRefused(
            _(
                "No column for: %(missing)s. The file's columns: %(columns)s. Map them with "
                "--map COLUMN=FIELD (fields: %(fields)s)."
            )
            % {
                "missing": ", ".join(_field_label(m) for m in missing),
                "columns": ", ".join(written),
                "fields": ", ".join(FIELDS),
            }
        )
    return Columns(
        by_index={index: name for name, index in by_field.items()},
        headings={name: written[index] for name, index in by_field.items()},
        ignored=ignored,
        notes=notes,
    )


# --- Checking rows ----------------------------------------------------------------------------


@dataclass
class Reject:
    line: int
    column: str
    reason: str


def _safe_reason(message, values) -> str:
    """A validator's message, unless it repeats something the row holds."""
    text = str(message)
    for value in values:
        for form in {value.strip(), normalize.text(value)}:
            if len(form) >= 2 and form in text:
                return _("This value is not valid.")
    return text


class _RowForm(CustomerForm):
    """The counter's CustomerForm, built once and bound again for each row: building a form
    deep-copies its fields, which costs as much as checking the row. Everything a check
    leaves behind (errors, cleaned data, bound fields, the instance) is reset each time."""

    def rebind(self, data: dict) -> "_RowForm":
        self.data = data
        self.is_bound = True
        self._errors = None
        self._bound_fields_cache = {}
        self.__dict__.pop("cleaned_data", None)
        self.instance = Customer()
        return self


def check_row(
    cells, columns: Columns, form: _RowForm | None = None
) -> tuple[Customer | None, list[tuple[str, str]]]:
    """The customer a row describes (not saved), or the problems, as (column, reason).
    ``form``: a _RowForm to reuse across rows (faster for a whole file)."""
    raw = {}
    for index, name in columns.by_index.items():
        raw[name] = _cell_text(cells[index] if index < len(cells) else None, name)
    data = {name: raw.get(name, "") for name in FORM_FIELDS}
    problems = []
    for whole, (first, second) in SPLIT_FIELDS.items():
        value = normalize.text(raw.get(whole, ""))
        if value:
            parts = value.split(None, 1)
            if len(parts) == 2:
                data[first], data[second] = parts
            else:
                problems.append((whole, _("Separate the family and given names with a space.")))
    contact = normalize.text(data["preferred_contact"]).lower()
    data["preferred_contact"] = CONTACT_WORDS.get(contact, "phone")
    if contact and contact not in CONTACT_WORDS:
        problems.append(
            ("preferred_contact", _("Write 電話, メール or 店頭 (phone, email or counter)."))
        )
    form = (form or _RowForm()).rebind(data)
    valid = form.is_valid()
    split_failed = {SPLIT_FIELDS[whole][0] for whole, _reason in problems if whole in SPLIT_FIELDS}
    for name, messages in form.errors.items():
        if name in split_failed:
            continue  # already said: the name column could not be split
        problems += [(name, message) for message in messages]
    values = [value for value in raw.values() if value]
    report = []
    for name, message in problems:
        entry = (columns.heading_for(name), _safe_reason(message, values))
        if entry not in report:
            report.append(entry)
    if valid and not report:
        return form.instance, []
    return None, report


# The fields that say two rows are the same person, each with its normalizer.
_PERSON_KEY = {
    "phone": normalize.phone,
    "family_name_kana": normalize.kana,
    "given_name_kana": normalize.kana,
}


def _person_key(customer: Customer) -> tuple[str, str, str]:
    return (
        normalize.phone(customer.phone or ""),
        normalize.kana(customer.family_name_kana or ""),
        normalize.kana(customer.given_name_kana or ""),
    )


def _existing_people(accepted, *, actor) -> dict:
    """Existing customers who are the same person as an accepted row, by person key. Only
    the candidates sharing a phone index are decrypted; the matches' reads are logged."""
    phone_index = Customer._meta.get_field("phone_bidx")
    wanted = {_person_key(c) for _line, c in accepted}
    wanted_phones = {key[0] for key in wanted}
    indexes = sorted({phone_index.value_for(phone) for phone in wanted_phones})
    found = {}
    for start in range(0, len(indexes), 500):
        candidates = list(
            Customer.objects.filter(
                erased_at__isnull=True, phone_bidx__in=indexes[start : start + 500]
            )
        )
        datakeys.preload(c.pk for c in candidates)
        for key, candidate in blind_index.keyed(candidates, _PERSON_KEY, wanted):
            found.setdefault(key, candidate)
    if found:
        decisions.decide(
            actor,
            list(found.values()),
            purpose="customer_import",
            fields=list(_PERSON_KEY),
        )
    return found


# --- The report -------------------------------------------------------------------------------


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


# --- Writing ----------------------------------------------------------------------------------


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
    return retention.months_before(timezone.now(), -settings.BOOKSHOP_RETENTION_CUSTOMER_MONTHS)


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
        writer.writerow([_("line"), _("reasons"), *(_cell_text(h) for h in header)])
        for line, cells, reasons in rejected:
            writer.writerow([line, " / ".join(reasons), *(_cell_text(c) for c in cells)])


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
        accepted, reasons_by_line, form = [], {}, _RowForm()
        for line, cells in table.rows:
            customer, problems = check_row(cells, columns, form)
            if customer is None:
                for column, reason in problems:
                    report.rejects.append(Reject(line, column, reason))
                    reasons_by_line.setdefault(line, []).append(f"{column}: {reason}")
            else:
                accepted.append((line, customer))
        accepted = _without_duplicates(accepted, report, reasons_by_line, columns, actor=actor)
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


def _without_duplicates(accepted, report, reasons_by_line, columns, *, actor) -> list:
    """Set aside a row that repeats an earlier row's person, or an existing customer."""
    phone_column = columns.heading_for("phone")
    existing = _existing_people(accepted, actor=actor) if accepted else {}
    first_line, kept = {}, []
    for line, customer in accepted:
        key = _person_key(customer)
        if key in existing:
            reason = _("Already a customer (same phone number and reading).")
        elif key in first_line:
            reason = _("Same phone number and reading as line %(line)s.") % {
                "line": first_line[key]
            }
        else:
            first_line[key] = line
            kept.append((line, customer))
            continue
        report.rejects.append(Reject(line, phone_column, reason))
        reasons_by_line.setdefault(line, []).append(f"{phone_column}: {reason}")
    return kept
