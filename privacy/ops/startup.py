"""Refuse to start with a keyring that is missing, unreadable, or not this database's, or
with an audit log that the database would let anyone change."""

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.migrations.recorder import MigrationRecorder

from privacy.audit import guard
from privacy.vault import crypto, datakeys, keyring
from privacy.vault.keyring import KeyringError

__all__ = ["KeyringError", "audit_guard_problem", "verify_keyring"]


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


def audit_guard_problem(alias: str = DEFAULT_DB_ALIAS) -> str | None:
    """What is wrong when the database would let the audit log be changed (its append-only
    triggers are missing or disabled), and what to run; None when the guard is in force, and
    when there is nothing to check yet: the database cannot be reached, or it is not migrated
    as far as the migration that installs the guard (`migrate` does it)."""
    database = connections[alias]
    try:
        if guard.TABLE not in database.introspection.table_names():
            return None
        if guard.MIGRATION not in MigrationRecorder(database).applied_migrations():
            return None
        missing = guard.missing(database)
    except DatabaseError:
        return None
    if not missing:
        return None
    return (
        f"The database does not refuse changes to the audit log: the append-only trigger(s) "
        f"{', '.join(missing)} on {guard.TABLE} are missing or disabled, so log entries could "
        "be updated or deleted. Install the guard again, as the database owner: "
        f"{guard.REINSTALL_COMMAND}"
    )
