"""Input normalization shared by forms and blind indexes: one spelling for one value.

Full-width digits and latin become half-width, half-width katakana become full-width, and
hiragana become katakana, so that 「ｻﾄｳ」, 「さとう」 and 「サトウ」 are one family name.
"""

import re
import unicodedata

import jaconv

_SPACES_AND_HYPHENS = re.compile(r"[\s\-‐‑‒–—―−－﹣]+")
# What a keyboard gives for the dash in a phone number: the long-vowel mark ー (a Japanese
# IME's dash key, full- or half-width), hyphens, minus signs, dashes, box-drawing lines.
_PHONE_DASHES = re.compile(r"[ーｰ‐‑‒–—―−－﹣─━⁃]")
# C0 control characters (tab, newline and carriage return excepted) and DEL. Bidirectional
# marks are not stripped from free text: they are refused in names (customers.validators).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(value: str) -> str:
    """NFKC, without control characters, with outer spaces trimmed."""
    return _CONTROL.sub("", unicodedata.normalize("NFKC", value or "")).strip()


def has_control_characters(value: str) -> bool:
    return bool(_CONTROL.search(value or ""))


def kana(value: str) -> str:
    """Katakana in one script, spaces and hyphens removed (ー, the long vowel, stays)."""
    return jaconv.hira2kata(_SPACES_AND_HYPHENS.sub("", text(value)))


def digits(value: str) -> str:
    return "".join(ch for ch in text(value) if ch.isdigit())


def phone_text(value: str) -> str:
    """A phone number as typed, NFKC, with every dash a keyboard may give (「ー」 from a
    Japanese IME, 「ｰ」, 「－」, 「‐」, 「−」 and the like) made an ASCII hyphen."""
    return _PHONE_DASHES.sub("-", text(value))


def phone(value: str) -> str:
    """Digits only, in domestic form: +81 90-1234-5678, 090ー1234ー5678 and 090-1234-5678
    are one number."""
    number = digits(phone_text(value))
    if phone_text(value).startswith("+81") or (number.startswith("81") and len(number) in (11, 12)):
        number = "0" + number[2:]
    return number


def phone_last4(value: str) -> str:
    return phone(value)[-4:]


def email(value: str) -> str:
    return text(value).lower()


def isbn(value: str) -> str:
    """Digits (and a final X) of an ISBN, converted to ISBN-13 so both forms match."""
    from stdnum import isbn as stdnum_isbn

    compact = _SPACES_AND_HYPHENS.sub("", text(value)).upper()
    try:
        return stdnum_isbn.to_isbn13(compact).replace("-", "")
    except Exception:  # noqa: BLE001 - an invalid ISBN normalizes to its compact form
        return compact
