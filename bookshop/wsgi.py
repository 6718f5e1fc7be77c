"""WSGI entry point for gunicorn. Refuses to start when the keyring is missing or does not
belong to the database, or when the database would let the audit log be changed (system
checks do not run under gunicorn, so the two that protect the data run here)."""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookshop.settings")

application = get_wsgi_application()

from privacy.ops.startup import audit_guard_problem, verify_keyring  # noqa: E402

verify_keyring()
if problem := audit_guard_problem():
    raise ImproperlyConfigured(problem)
