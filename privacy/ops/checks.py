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


@checks.register(checks.Tags.security, deploy=True)
def demo_terminal_registration_is_off(app_configs=None, **kwargs):
    """The demo's automatic terminal registration must never reach a shop."""
    from django.conf import settings

    if getattr(settings, "BOOKSHOP_DEMO_REGISTERS_TERMINAL", False):
        return [
            checks.Warning(
                "BOOKSHOP_DEMO_REGISTERS_TERMINAL=1 registers every browser that logs in as a "
                "shop terminal: for the demo (make run) only.",
                hint="Unset BOOKSHOP_DEMO_REGISTERS_TERMINAL; the manager registers each "
                "computer at 端末 (/terminals/).",
                id="privacy.W003",
            )
        ]
    return []
