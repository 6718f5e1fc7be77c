"""Bulk inserts for generated bench data, without a model instance per row.

``bulk_create`` spends most of a bench generation in Django: a model constructor per row and
compiler work per value. Here each row is a dict of attribute values; every value still goes
through its own field's ``get_db_prep_save`` (so it is stored exactly as the ORM stores it),
except values the ORM passes through unchanged (text, whole numbers, booleans, None) and
ciphertexts made by Shiori's own code (bytes). PostgreSQL gets ``COPY``; SQLite one
``executemany`` per batch. Bench code only: the app writes through its models.
"""

from django.db import connection, models

from privacy.vault.blind_index import BlindIndexField
from privacy.vault.fields import EncryptedTextField

_PASS = (str, int, bool, type(None))


def insert(model, rows: list[dict], *, now=None) -> None:
    """Insert ``rows`` (attname -> value) into ``model``'s table. A field missing from a row
    takes its default (one value for the whole batch: never use it for ids) or, for
    ``auto_now`` fields, ``now``."""
    if not rows:
        return
    meta = model._meta
    fields = list(meta.concrete_fields)
    given = rows[0].keys()
    defaults = {}
    for f in fields:
        if f.attname in given:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = now
        elif f.primary_key:
            raise ValueError(f"{meta.label}: rows must give their {f.attname}.")
        else:
            defaults[f.attname] = f.get_default()
    preps = [(f.attname, _prep(f)) for f in fields]
    prepared = []
    for row in rows:
        values = []
        for attname, prep in preps:
            value = row[attname] if attname in row else defaults[attname]
            values.append(prep(value))
        prepared.append(values)
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # psycopg's own cursor: COPY
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for values in prepared:
                    copy.write_row(values)
        else:
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", prepared)  # noqa: S608 - names from the model


# Field classes whose get_db_prep_save hands text, numbers and booleans over unchanged.
_PLAIN_FIELDS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.BooleanField,
    models.AutoField,
    models.BigAutoField,
    BlindIndexField,
)


def _prep(field):
    """The function that turns a value into what the database driver gets."""
    if isinstance(field, EncryptedTextField):
        return _bytes  # a ciphertext made by privacy.crypto
    prep, conn = field.get_db_prep_save, connection
    target = field.target_field if field.is_relation else field
    if type(target) in _PLAIN_FIELDS:  # exact classes: a subclass may encrypt (fernet)
        return lambda value: value if type(value) in _PASS else prep(value, conn)
    return lambda value: prep(value, conn)


def _bytes(value):
    return None if value is None else bytes(value)
