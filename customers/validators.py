"""Field checks for what clerks type at the counter. Each error names the problem in the
clerk's language; the form keeps what was typed."""

import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import isbn as stdnum_isbn
from stdnum.exceptions import InvalidChecksum, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError

from privacy.vault import normalize

_KANA = re.compile(r"^[\u30a0-\u30ff\s]+$")


def reject_control_characters(value: str) -> None:
    if normalize.has_control_characters(value):
        raise ValidationError(_("Remove the invisible control characters."), code="control")


def reject_symbols(value: str) -> None:
    """Names hold letters, not emoji or pictographs."""
    for ch in value:
        # So/Sk: emoji and symbols; Cf: invisible formatting such as right-to-left overrides.
        if unicodedata.category(ch) in {"So", "Sk", "Cf", "Cs", "Co", "Cn"} and ch != "ー":
            raise ValidationError(
                _("Use letters only; emoji and symbols are not allowed."), code="symbol"
            )


def validate_kana(value: str) -> None:
    if not _KANA.match(normalize.kana(value) or "?"):
        raise ValidationError(_("Enter the reading in kana (hiragana or katakana)."), code="kana")


def clean_phone(value: str) -> str:
    """A Japanese phone number, returned as digits only. Dashes typed as 「ー」, 「－」,
    「‐」 or 「−」 (what a Japanese keyboard gives) are hyphens."""
    typed = normalize.phone_text(value)
    if re.search(r"[^\d\s\-+()]", typed):
        raise ValidationError(_("A phone number holds digits only."), code="phone_chars")
    number = normalize.phone(typed)
    try:
        parsed = phonenumbers.parse(number, "JP")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("Enter a Japanese phone number, such as 090-1234-5678."), code="phone"
        )
    return number


def clean_last4(value: str) -> str:
    digits = normalize.text(value)
    if not re.fullmatch(r"[0-9]{4}", digits):
        raise ValidationError(_("Enter the last four digits of the phone number."), code="last4")
    return digits


def clean_postal_code(value: str) -> str:
    digits = normalize.digits(value)
    if re.search(r"[^\d\s\-〒]", normalize.text(value)) or len(digits) != 7:
        raise ValidationError(_("A postal code has seven digits, such as 100-0001."), code="postal")
    return f"{digits[:3]}-{digits[3:]}"


def clean_isbn(value: str) -> str:
    """An ISBN-10 or ISBN-13 with a valid check digit, returned as ISBN-13 with hyphens."""
    compact = normalize.text(value).replace("-", "").replace(" ", "").upper()
    try:
        stdnum_isbn.validate(compact)
    except InvalidChecksum:
        raise ValidationError(
            _("This ISBN's check digit is wrong; check the number."), code="isbn_checksum"
        ) from None
    except (InvalidLength, StdnumError):
        raise ValidationError(_("An ISBN has 10 or 13 digits."), code="isbn") from None
    return stdnum_isbn.format(stdnum_isbn.to_isbn13(compact))
