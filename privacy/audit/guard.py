"""Database triggers that make the audit log append-only: UPDATE, DELETE and (PostgreSQL)
TRUNCATE are refused by the database itself, whatever the application does.

The app's own database role should also hold only INSERT and SELECT on the table (README,
"Operations"); the triggers stop a mistake or a stolen app session, the role stops the rest.
"""

TABLE = "privacy_auditlogentry"

_POSTGRES_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION privacy_audit_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only: % refused on %', TG_OP, TG_TABLE_NAME;
    END
    $$ LANGUAGE plpgsql
    """,
    f"DROP TRIGGER IF EXISTS privacy_audit_no_change ON {TABLE}",
    f"""CREATE TRIGGER privacy_audit_no_change BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION privacy_audit_append_only()""",
    f"DROP TRIGGER IF EXISTS privacy_audit_no_truncate ON {TABLE}",
    f"""CREATE TRIGGER privacy_audit_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION privacy_audit_append_only()""",
]
_POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS privacy_audit_no_change ON {TABLE}",
    f"DROP TRIGGER IF EXISTS privacy_audit_no_truncate ON {TABLE}",
]
_SQLITE_INSTALL = [
    f"""CREATE TRIGGER IF NOT EXISTS privacy_audit_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS privacy_audit_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END""",
]
_SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS privacy_audit_no_update",
    "DROP TRIGGER IF EXISTS privacy_audit_no_delete",
]
# The triggers that make up the guard, by engine.
TRIGGERS = {
    "postgresql": ("privacy_audit_no_change", "privacy_audit_no_truncate"),
    "sqlite": ("privacy_audit_no_update", "privacy_audit_no_delete"),
}
# The migration that last installed the guard; until it is applied, `migrate` will.
MIGRATION = ("privacy", "0016_audit_guard_after_table_rebuild")
# What the owner runs when the guard is missing (the start-up check names it).
REINSTALL_CODE = (
    "from django.db import connection; from privacy.audit import guard; guard.install(connection)"
)
REINSTALL_COMMAND = f'python manage.py shell -c "{REINSTALL_CODE}"'


def _statements(connection, install: bool) -> list[str]:
    if connection.vendor == "postgresql":
        return _POSTGRES_INSTALL if install else _POSTGRES_REMOVE
    if connection.vendor == "sqlite":
        return _SQLITE_INSTALL if install else _SQLITE_REMOVE
    raise NotImplementedError(f"No append-only triggers for {connection.vendor}.")


def install(connection) -> None:
    with connection.cursor() as cursor:
        for statement in _statements(connection, install=True):
            cursor.execute(statement)


def remove(connection) -> None:
    """For maintenance by the database owner only (and the tests that prove tampering shows)."""
    with connection.cursor() as cursor:
        for statement in _statements(connection, install=False):
            cursor.execute(statement)


def missing(connection) -> list[str]:
    """The guard's triggers that are not in force on the log table (absent, or disabled on
    PostgreSQL); an empty list when the database refuses UPDATE, DELETE and TRUNCATE. A
    SQLite table rebuilt by a migration (ALTER by copy) loses its triggers: see migration
    0016."""
    if connection.vendor == "postgresql":
        query = """
            SELECT t.tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE t.tgrelid = to_regclass(%s) AND NOT t.tgisinternal AND t.tgenabled <> 'D'
              AND p.proname = 'privacy_audit_append_only'
        """
    elif connection.vendor == "sqlite":
        query = """
            SELECT name FROM sqlite_master
            WHERE type = 'trigger' AND tbl_name = %s AND sql LIKE '%%RAISE(ABORT%%'
        """
    else:
        raise NotImplementedError(f"No append-only triggers for {connection.vendor}.")
    with connection.cursor() as cursor:
        cursor.execute(query, [TABLE])
        present = {name for (name,) in cursor.fetchall()}
    return [name for name in TRIGGERS[connection.vendor] if name not in present]
