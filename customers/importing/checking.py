"""Checking rows: each row through the counter's own ``CustomerForm``, then a row that repeats
an earlier row's person, or an existing customer's, set aside."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from customers.forms import CustomerForm
from customers.importing.columns import FORM_FIELDS, SPLIT_FIELDS, Columns
from customers.importing.reading import cell_text
from customers.models import Customer
from privacy.access import decisions
from privacy.vault import blind_index, datakeys, normalize

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


class RowForm(CustomerForm):
    """The counter's CustomerForm, built once and bound again for each row: building a form
    deep-copies its fields, which costs as much as checking the row. Everything a check
    leaves behind (errors, cleaned data, bound fields, the instance) is reset each time."""

    def rebind(self, data: dict) -> "RowForm":
        self.data = data
        self.is_bound = True
        self._errors = None
        self._bound_fields_cache = {}
        self.__dict__.pop("cleaned_data", None)
        self.instance = Customer()
        return self


def check_row(
    cells, columns: Columns, form: RowForm | None = None
) -> tuple[Customer | None, list[tuple[str, str]]]:
    """The customer a row describes (not saved), or the problems, as (column, reason).
    ``form``: a RowForm to reuse across rows (faster for a whole file)."""
    raw = {}
    for index, name in columns.by_index.items():
        raw[name] = cell_text(cells[index] if index < len(cells) else None, name)
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
    form = (form or RowForm()).rebind(data)
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


def without_duplicates(accepted, report, reasons_by_line, columns, *, actor) -> list:
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
