"""Mapping columns to fields: the usual headings, a mapping given with ``--map`` or in a
file, and the fields each import needs."""

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from customers.forms import CustomerForm
from customers.importing.reading import ImportRefused, cell_text, decode, read_bytes
from customers.models import Customer
from privacy.vault import normalize

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


def _heading_key(heading) -> str:
    """Headings compare without width, case, spaces, brackets, hyphens or underscores."""
    text = normalize.text(cell_text(heading)).lower()
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
    text, _encoding = decode(read_bytes(path))
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
        normalize.text(cell_text(h))
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
