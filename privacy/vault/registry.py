"""Registers personal-data models with django-auditlog so that the write log says which
encrypted field changed and never its value, plaintext or ciphertext.

auditlog finds what changed by reading every field of the old and the new row; for an
encrypted field that read would decrypt, which needs the subject's key and so an access
decision (privacy.vault.gate). The write log needs no plaintext to know that a value
changed: ``install_sealed_diff`` makes auditlog compare an encrypted field by its stored
ciphertext, or by whether a value read was assigned anew, and never decrypt."""

import hashlib

from auditlog.registry import auditlog

from privacy.vault.blind_index import BlindIndexField
from privacy.vault.fields import EncryptedTextField, Sealed

REDACTED = "[redacted]"


def redact(_value) -> str:
    return REDACTED


def register_personal_model(model) -> None:
    fields = model._meta.get_fields()
    encrypted = [f.name for f in fields if isinstance(f, EncryptedTextField)]
    derived = [f.name for f in fields if isinstance(f, BlindIndexField)]
    auditlog.register(
        model,
        mask_fields=encrypted,
        mask_callable="privacy.vault.registry.redact",
        exclude_fields=derived,
    )


def _sealed_value(obj, field) -> str:
    """A stand-in that differs exactly when the stored value differs, without decrypting."""
    value = obj.__dict__.get(field.attname)
    if value is None:
        return "None"
    if isinstance(value, Sealed):
        return "sealed:" + hashlib.sha256(value.blob).hexdigest()
    loaded = obj.__dict__.get("_sealed_loaded", {}).get(field.attname)
    if loaded is not None and loaded[1] == value:  # read, not changed: saved as it was
        return "sealed:" + hashlib.sha256(loaded[0].blob).hexdigest()
    return f"new:{id(obj)}:{field.attname}"


def install_sealed_diff() -> None:
    """Make auditlog's diff see an encrypted field through ``_sealed_value`` (called once,
    when the app is ready)."""
    from auditlog import diff

    original = diff.get_field_value
    if getattr(original, "_shiori_sealed", False):
        return

    def get_field_value(obj, field, use_json_for_changes=False):
        if obj is not None and isinstance(field, EncryptedTextField):
            return _sealed_value(obj, field)
        return original(obj, field, use_json_for_changes)

    get_field_value._shiori_sealed = True
    diff.get_field_value = get_field_value
