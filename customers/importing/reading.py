"""Reading a spreadsheet: CSV in UTF-8 (with or without BOM) or Shift_JIS (CP932), or .xlsx,
as a header and numbered rows of cells; and ``ImportRefused``, for a file that cannot be
imported at all."""

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from django.utils.translation import gettext as _

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


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise ImportRefused(_("Cannot read %(path)s.") % {"path": path}) from None


def _read_csv(path: Path, encoding: str | None) -> Table:
    text, used = decode(read_bytes(path), encoding)
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
            if not any(cell_text(value).strip() for value in cells):
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


def cell_text(value, field_name: str | None = None) -> str:
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
