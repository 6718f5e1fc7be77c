"""Settings for the test suite: the real settings, with test defaults for what a developer
machine would otherwise have to provide."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-" + "x7Qp2" * 10)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Everything the app keeps beside the database (erasure ledger, audit checkpoints, backups)
# goes to a private folder, never a developer's var/.
_TEST_VAR_DIR = tempfile.mkdtemp(prefix="shiori-test-var-")
atexit.register(shutil.rmtree, _TEST_VAR_DIR, ignore_errors=True)
os.environ.setdefault("BOOKSHOP_VAR_DIR", _TEST_VAR_DIR)
os.environ.setdefault(
    "BOOKSHOP_KEYRING", str(Path(tempfile.mkdtemp(prefix="shiori-test-keys-")) / "keyring.json")
)

from bookshop.settings import *  # noqa: E402, F403

# Fast hashing in tests; production keeps Django's default.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # noqa: S303
# Tests that are about business hours set them and the clock (time-machine) themselves.
BOOKSHOP_OPENING_HOURS = "00:00-24:00"

# The suite runs on what production runs: on SQLite, a database FILE opened with the real
# settings' options (WAL, IMMEDIATE transactions, busy timeout), not pytest-django's default
# in-memory database. The file lives in a private temporary folder, removed at exit.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    _TEST_DB_DIR = tempfile.mkdtemp(prefix="shiori-test-db-")
    atexit.register(shutil.rmtree, _TEST_DB_DIR, ignore_errors=True)
    DATABASES["default"]["TEST"] = {"NAME": str(Path(_TEST_DB_DIR) / "test.sqlite3")}  # noqa: F405
