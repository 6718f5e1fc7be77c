"""Start-up check: the keyring must exist, be readable, and belong to this database."""

import sys

from django.core import checks

from privacy import startup

# Commands that never touch customer data may run without a keyring (building an image,
# writing migrations, creating the keyring itself).
_EXEMPT_COMMANDS = {
    "keys",
    "makemigrations",
    "makemessages",
    "compilemessages",
    "collectstatic",
    "help",
}


@checks.register()
def keyring_matches_data(app_configs=None, **kwargs):
    if len(sys.argv) > 1 and sys.argv[1] in _EXEMPT_COMMANDS:
        return []
    try:
        startup.verify_keyring()
    except startup.KeyringError as exc:
        return [checks.Error(str(exc), id="privacy.E001")]
    return []
