"""WSGI entry point for gunicorn. Refuses to start when the keyring is missing or does not
belong to the database."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookshop.settings")

application = get_wsgi_application()

from privacy.ops.startup import verify_keyring  # noqa: E402

verify_keyring()
