"""Settings for the benchmark's worker processes: Shiori's own settings plus the baseline
app. The orchestrator (bench.cli) sets the environment: a dedicated bench database, a bench
keyring, a secret key kept beside the bench data, and the whole day as opening hours."""

from bookshop.settings import *  # noqa: F403
from bookshop.settings import INSTALLED_APPS, LOGGING

INSTALLED_APPS = [*INSTALLED_APPS, "bench.baseline"]
ROOT_URLCONF = "bench.urls"

# django-fernet-encrypted-fields derives its key from SECRET_KEY and this salt.
SALT_KEY = "shiori-bench-fernet-salt"

# The test client talks plain HTTP to "testserver".
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SESSION_COOKIE_NAME = "sessionid"
CSRF_COOKIE_NAME = "csrftoken"

LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": "WARNING"}}
