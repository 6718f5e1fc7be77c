"""Start-up checks: the keyring must exist, be readable, and belong to this database; the
database must refuse changes to the audit log."""

import sys

from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS

from privacy.ops import startup


def _offline() -> bool:
    return len(sys.argv) > 1 and sys.argv[1] in settings.BOOKSHOP_OFFLINE_COMMANDS


@checks.register()
def keyring_matches_data(app_configs=None, **kwargs):
    if _offline():
        return []
    try:
        startup.verify_keyring()
    except startup.KeyringError as exc:
        return [checks.Error(str(exc), id="privacy.E001")]
    return []


@checks.register(checks.Tags.database)
def audit_log_is_append_only(app_configs=None, databases=None, **kwargs):
    """Run at every start (runserver, migrate, any command with checks), not only when asked
    for the database checks: a log the database lets anyone rewrite is no audit log."""
    if _offline():
        return []
    errors = []
    for alias in databases if databases is not None else [DEFAULT_DB_ALIAS]:
        problem = startup.audit_guard_problem(alias)
        if problem:
            errors.append(checks.Error(problem, id="privacy.E002"))
    return errors
