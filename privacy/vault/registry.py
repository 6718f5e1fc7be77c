"""Registers personal-data models with django-auditlog so that the write log says which
encrypted field changed and never its value, plaintext or ciphertext."""

from auditlog.registry import auditlog

from privacy.vault.blind_index import BlindIndexField
from privacy.vault.fields import EncryptedTextField

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
