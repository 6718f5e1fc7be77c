"""Refuse to start with a keyring that is missing, unreadable, or not this database's."""

from django.db import DatabaseError, connection

from privacy.vault import crypto, datakeys, keyring
from privacy.vault.keyring import KeyringError

__all__ = ["KeyringError", "verify_keyring"]


def _tables_exist() -> bool:
    try:
        return {"privacy_keycanary", "privacy_datakey"} <= set(
            connection.introspection.table_names()
        )
    except DatabaseError:
        return False


def verify_keyring() -> keyring.Keyring:
    """Load the keyring and check it against the canaries and data keys in the database."""
    ring = keyring.load()
    if not _tables_exist():
        return ring  # a database not yet migrated holds nothing to check
    from privacy.vault.models import DataKey, KeyCanary

    mismatch = (
        f"The keyring {ring.path} does not match the data in this database "
        "({detail}). Set BOOKSHOP_KEYRING to the keyring this database was created with."
    )
    for canary in KeyCanary.objects.all():
        if canary.kek_id not in ring.keks:
            if DataKey.objects.filter(kek_id=canary.kek_id).exists():
                raise KeyringError(
                    mismatch.format(detail=f"key {canary.kek_id} is missing from the keyring")
                )
            continue  # a retired key that wraps nothing any more
        try:
            opened = crypto.unseal(
                ring.kek_aead(canary.kek_id), bytes(canary.sealed), b"privacy.canary"
            )
        except crypto.DecryptionError:
            opened = None
        if opened != datakeys.CANARY_PLAINTEXT:
            raise KeyringError(
                mismatch.format(detail=f"key {canary.kek_id} does not open the stored canary")
            )
        if canary.index_check != datakeys.canary_index_check(ring):
            raise KeyringError(mismatch.format(detail="the blind-index key differs"))
    unknown = set(DataKey.objects.values_list("kek_id", flat=True).distinct()) - set(ring.keks)
    if unknown:
        raise KeyringError(
            mismatch.format(detail=f"data keys are wrapped by unknown key {sorted(unknown)[0]}")
        )
    return ring
