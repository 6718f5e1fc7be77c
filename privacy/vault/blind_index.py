"""Blind indexes: truncated HMAC-SHA256 of a normalized value, for exact-match search over
encrypted columns.

The index is truncated (BOOKSHOP_BLIND_INDEX_BITS) so that each index value is shared by
several rows: the index narrows a search to a few candidates, which are then decrypted and
compared exactly, and it never proves on its own that two rows hold the same value.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import models

from privacy.vault import crypto, keyring
from privacy.vault.fields import Sealed


def compute(name: str, normalized: str) -> int | None:
    if not normalized:
        return None
    key = keyring.load().index_key(name)
    digest = crypto.keyed_hash(key, normalized.encode())
    bits = settings.BOOKSHOP_BLIND_INDEX_BITS
    return int.from_bytes(digest[:4], "big") >> (32 - bits)


class BlindIndexField(models.IntegerField):
    """Holds the blind index of another (encrypted) field of the same model, kept up to
    date on save. ``normalizer`` is a dotted path to a function of privacy.normalize."""

    def __init__(self, *args, source: str = "", normalizer: str = "", **kwargs):
        self.source = source
        self.normalizer = normalizer
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["normalizer"] = self.normalizer
        return name, path, args, kwargs

    @property
    def index_name(self) -> str:
        return f"{self.model._meta.label_lower}.{self.name}"

    def normalize(self) -> Callable[[str], str]:
        from privacy.vault import normalize

        return getattr(normalize, self.normalizer)

    def value_for(self, plaintext: str | None) -> int | None:
        if plaintext is None:
            return None
        return compute(self.index_name, self.normalize()(plaintext))

    def pre_save(self, model_instance, add):
        source_value = model_instance.__dict__.get(self.source)
        if isinstance(source_value, Sealed):
            # Untouched since load: the stored index is still right.
            return getattr(model_instance, self.attname)
        value = self.value_for(source_value)
        setattr(model_instance, self.attname, value)
        return value


def lookup(model, field_name: str, raw: str) -> dict:
    """The filter kwargs that select the candidates for ``raw`` in one blind index."""
    field = model._meta.get_field(field_name)
    return {field_name: field.value_for(raw)}


def _plaintext(instance, name: str) -> str | None:
    """A field's plaintext for the vault's own use: not kept on the instance, and the key
    not admitted to the scope (nothing is shown)."""
    from privacy.vault import datakeys

    value = instance.__dict__.get(instance._meta.get_field(name).attname)
    if not isinstance(value, Sealed):
        return value
    aead = datakeys._vault_only(instance.data_subject_id())
    return instance._meta.get_field(name).decrypt_with(aead, instance, value)


def recompute(rows, fields) -> None:
    """Recompute these index fields of these rows under the current index key (index key
    rotation). Decrypts inside the vault; no plaintext is handed out."""
    for row in rows:
        for field in fields:
            setattr(row, field.attname, field.value_for(_plaintext(row, field.source)))


def keyed(candidates, normalizers: dict[str, Callable[[str], str]], wanted: set[tuple]) -> list:
    """``(key, candidate)`` for each candidate whose fields, each normalized by its function
    (a missing value as ""), form a key in ``wanted``. A blind index only narrows a search;
    this compares inside the vault, so candidates that do not match are shown to nobody and
    need no access decision."""
    found = []
    for candidate in candidates:
        key = tuple(
            normalizer(_plaintext(candidate, name) or "")
            for name, normalizer in normalizers.items()
        )
        if key in wanted:
            found.append((key, candidate))
    return found


def exact(candidates, wanted: dict[str, tuple[Callable[[str], str], str]]) -> list:
    """The candidates whose fields, normalized, equal the wanted values: ``wanted`` maps a
    field name to (normalizer, normalized value)."""
    normalizers = {name: normalizer for name, (normalizer, _value) in wanted.items()}
    key = tuple(value for _normalizer, value in wanted.values())
    return [candidate for _key, candidate in keyed(candidates, normalizers, {key})]
