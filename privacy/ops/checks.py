"""Start-up check: the keyring must exist, be readable, and belong to this database."""

import sys

from django.conf import settings
from django.core import checks

from privacy.ops import startup


@checks.register()
def keyring_matches_data(app_configs=None, **kwargs):
    if len(sys.argv) > 1 and sys.argv[1] in settings.BOOKSHOP_OFFLINE_COMMANDS:
        return []
    try:
        startup.verify_keyring()
    except startup.KeyringError as exc:
        return [checks.Error(str(exc), id="privacy.E001")]
    return []
