"""Model fields that store AES-256-GCM ciphertext and read as plaintext.

A loaded row keeps each value sealed until the attribute is first read, so a page decrypts
only the fields it shows. Each ciphertext is bound to ``app.model.field:pk``; a value copied
into another row or column fails to decrypt. Filtering on an encrypted column is refused:
search goes through a blind index (privacy.blind_index).
"""

import functools
from contextvars import ContextVar

from django import forms
from django.core import checks
from django.db import models
from django.utils.text import capfirst

from privacy.vault import crypto, datakeys


class Sealed:
    """Ciphertext as loaded from the database, not yet decrypted."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes):
        self.blob = blob

    def __repr__(self):
        return "<encrypted>"

    def __eq__(self, other):
        return isinstance(other, Sealed) and other.blob == self.blob

    def __hash__(self):
        return hash(self.blob)


# Set while a row is copied as stored (refresh_from_db): the values move sealed.
_copying_sealed: ContextVar[bool] = ContextVar("shiori_copying_sealed", default=False)


def _refresh_sealed(refresh):
    """Model.refresh_from_db reads every field of the fresh row to copy it; an encrypted value
    is copied sealed, as stored: refreshing a row is not reading it."""

    @functools.wraps(refresh)
    def refresh_from_db(self, *args, **kwargs):
        token = _copying_sealed.set(True)
        try:
            return refresh(self, *args, **kwargs)
        finally:
            _copying_sealed.reset(token)

    refresh_from_db._shiori_sealed = True
    return refresh_from_db


class EncryptedValueDescriptor:
    def __init__(self, field):
        self.field = field
        self.attname = field.attname

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        values = instance.__dict__
        value = values.get(self.attname)
        if type(value) is not Sealed or _copying_sealed.get():  # plaintext already, or None
            return value
        plaintext = self.field.decrypt(instance, value)
        values[self.attname] = plaintext
        loaded = values.get("_sealed_loaded")
        if loaded is None:
            loaded = values["_sealed_loaded"] = {}
        loaded[self.attname] = (value, plaintext)
        return plaintext

    def __set__(self, instance, value):
        instance.__dict__[self.attname] = value


class EncryptedTextField(models.BinaryField):
    """A text value encrypted under the data subject's key. ``max_length`` limits the
    plaintext (in characters) and shapes the form field."""

    descriptor_class = EncryptedValueDescriptor

    def __init__(self, *args, multiline: bool = False, **kwargs):
        self.multiline = multiline
        kwargs.setdefault("editable", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("null", True)
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        if not getattr(cls.refresh_from_db, "_shiori_sealed", False):
            cls.refresh_from_db = _refresh_sealed(cls.refresh_from_db)
        self._aad_prefixes = {}  # model class -> b"app.model.field:", this field's own

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        if not hasattr(self.model, "data_subject_id"):
            errors.append(
                checks.Error(
                    "Models with encrypted fields must define data_subject_id().",
                    obj=self,
                    id="privacy.E010",
                )
            )
        return errors

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.multiline:
            kwargs["multiline"] = True
        return name, path, args, kwargs

    def associated_data(self, instance) -> bytes:
        """``app.model.field:pk`` as bytes: the prefix is built once per model, the primary
        key's text once per instance (and again if the primary key changes)."""
        prefix = self._aad_prefixes.get(type(instance))
        if prefix is None:
            meta = instance._meta
            prefix = f"{meta.app_label}.{meta.model_name}.{self.name}:".encode()
            self._aad_prefixes[type(instance)] = prefix
        pk = instance.pk
        cached = instance.__dict__.get("_aad_pk")
        if cached is None or cached[0] is not pk:
            cached = instance.__dict__["_aad_pk"] = (pk, str(pk).encode())
        return prefix + cached[1]

    def decrypt(self, instance, sealed: Sealed) -> str:
        aead = instance.__dict__.get("_data_key")
        if aead is None:
            aead = datakeys.aead_for_instance(instance)  # through the gate
        return self.decrypt_with(aead, instance, sealed)

    def decrypt_with(self, aead, instance, sealed: Sealed) -> str:
        """The plaintext under a cipher already in hand (the vault's own work)."""
        return crypto.unseal(aead, sealed.blob, self.associated_data(instance)).decode()

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return Sealed(value if type(value) is bytes else bytes(value))

    def to_python(self, value):
        if value is None or isinstance(value, (str, Sealed)):
            return value
        return str(value)

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, Sealed):
            return value
        loaded = model_instance.__dict__.get("_sealed_loaded", {}).get(self.attname)
        if loaded and loaded[1] == value:
            return loaded[0]  # unchanged since it was read: keep the stored ciphertext
        aead = datakeys.aead_for_instance(model_instance, create=True)
        blob = crypto.seal(aead, str(value).encode(), self.associated_data(model_instance))
        sealed = Sealed(blob)
        model_instance.__dict__.setdefault("_sealed_loaded", {})[self.attname] = (sealed, value)
        return sealed

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        if isinstance(value, Sealed):
            return connection.Database.Binary(value.blob)
        raise TypeError(
            f"{self.model.__name__}.{self.name} is encrypted: save it through Model.save(), "
            "not update() or bulk_update()."
        )

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None

    def value_to_string(self, obj):
        return "<encrypted>"

    def formfield(self, **kwargs):
        defaults = {
            "form_class": forms.CharField,
            "max_length": self.max_length,
            "required": not self.blank,
            "label": capfirst(self.verbose_name),
            "help_text": self.help_text,
        }
        if self.multiline:
            defaults["widget"] = forms.Textarea(attrs={"rows": 3})
        defaults.update(kwargs)
        form_class = defaults.pop("form_class")
        return form_class(**defaults)


def encrypted_field_names(model) -> list[str]:
    """The names of a model's encrypted fields, in declaration order."""
    return [f.name for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
