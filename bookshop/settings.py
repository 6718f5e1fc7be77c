"""Shiori settings, read from environment variables (see README, "Configuration")."""

import secrets
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from bookshop.env import database_from_url, env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BOOKSHOP_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)


# Commands that sign, serve and read nothing of the customers': they run without a secret key
# or keyring (building an image, writing migrations or translations, creating the keyring).
BOOKSHOP_OFFLINE_COMMANDS = frozenset(
    {"makemigrations", "makemessages", "compilemessages", "collectstatic", "keys", "help"}
)


def _secret_key() -> str:
    key = env_secret("DJANGO_SECRET_KEY")
    if key:
        if len(key) < 50 or len(set(key)) < 5:
            raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters.")
        return key
    if not DEBUG and sys.argv[1:2] and sys.argv[1] in BOOKSHOP_OFFLINE_COMMANDS:
        return secrets.token_urlsafe(64)
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) to 50+ random characters, "
            "or DJANGO_DEBUG=1 for a development machine."
        )
    # Development only: a key kept under var/ so sessions survive a restart.
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "guardian",
    "auditlog",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "privacy",
    "customers",
    "privacy.incidents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "bookshop.middleware.ChosenLanguageMiddleware",
    # Early, so that every response (error pages included) carries its request id.
    "privacy.views.middleware.RequestScopeMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Terminals (issue 15): which of the shop's registered computers sends the request.
    "privacy.views.terminal_middleware.TerminalMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "privacy.staff.sessions.StaffSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bookshop.urls"
WSGI_APPLICATION = "bookshop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bookshop.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'shiori.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, refusing deactivated and end-dated accounts.
    "privacy.staff.backends.StaffBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No anonymous user object: an anonymous visitor holds no permission at all.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    # Argon2id (Django's Argon2PasswordHasher uses the id variant); older hashes upgrade on login.
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "bookshop" / "locale"]
USE_I18N = True
TIME_ZONE = env_str("BOOKSHOP_TIME_ZONE", "Asia/Tokyo")
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "bookshop" / "static"]
STATIC_ROOT = VAR_DIR / "static"

# --- Keys and encryption (privacy/keyring.py) -------------------------------------------
BOOKSHOP_KEYRING = env_str("BOOKSHOP_KEYRING", str(VAR_DIR / "keyring.json"))
# Bits kept of each blind index. CipherSweet's rule: each index value should be shared by
# between 2 and sqrt(R) rows; 10 bits fits about 7,000 customers, 16 bits a million.
BOOKSHOP_BLIND_INDEX_BITS = env_int("BOOKSHOP_BLIND_INDEX_BITS", 10, minimum=4)
if BOOKSHOP_BLIND_INDEX_BITS > 31:
    raise ImproperlyConfigured("BOOKSHOP_BLIND_INDEX_BITS must be at most 31.")

# --- Key epochs and backups that expire (issue 14, "keys"; privacy/ops/backup.py) --------
# `keys rotate --if-due` starts a new key epoch once the active KEK is this many days old.
BOOKSHOP_KEY_ROTATE_DAYS = env_int("BOOKSHOP_KEY_ROTATE_DAYS", 30, minimum=1)
# Where `backup` writes when given no --output, and what `backup --prune` cleans.
BOOKSHOP_BACKUP_DIR = env_str("BOOKSHOP_BACKUP_DIR", str(VAR_DIR / "backups"))
# Days a backup is kept: its manifest's expires_at; `backup --prune` deletes it after.
BOOKSHOP_BACKUP_KEEP_DAYS = env_int("BOOKSHOP_BACKUP_KEEP_DAYS", 35, minimum=1)

# --- The shop --------------------------------------------------------------------------
BOOKSHOP_COUNTER_TEAM = env_str("BOOKSHOP_COUNTER_TEAM", "counter")
BOOKSHOP_SHOP_NAME = env_str("BOOKSHOP_SHOP_NAME", "Shiori Books")
# Published on /privacy/ as APPI asks: who keeps the data, and where to ask about it.
BOOKSHOP_SHOP_ADDRESS = env_str("BOOKSHOP_SHOP_ADDRESS", "")
BOOKSHOP_SHOP_REPRESENTATIVE = env_str("BOOKSHOP_SHOP_REPRESENTATIVE", "")
BOOKSHOP_PRIVACY_CONTACT = env_str("BOOKSHOP_PRIVACY_CONTACT", "")
BOOKSHOP_DISCLOSURE_FEE = env_int("BOOKSHOP_DISCLOSURE_FEE", 0, minimum=0)
# Days to answer a customer's request (APPI: without delay); the manager's board sorts by it.
BOOKSHOP_REQUEST_DUE_DAYS = env_int("BOOKSHOP_REQUEST_DUE_DAYS", 14, minimum=1)
# Customers whose details were not confirmed for this long are flagged at their next order.
BOOKSHOP_CONFIRM_AFTER_DAYS = env_int("BOOKSHOP_CONFIRM_AFTER_DAYS", 365, minimum=1)
# The erasure ledger lives beside the keyring, outside the database and its backups.
BOOKSHOP_ERASURE_LEDGER = env_str("BOOKSHOP_ERASURE_LEDGER", str(VAR_DIR / "erasure-ledger.jsonl"))
# Days a released disclosure package can be downloaded (once).
BOOKSHOP_DISCLOSURE_LINK_DAYS = env_int("BOOKSHOP_DISCLOSURE_LINK_DAYS", 7, minimum=1)
# Requests and complaints one address may send through the public form in an hour.
BOOKSHOP_PUBLIC_FORM_PER_HOUR = env_int("BOOKSHOP_PUBLIC_FORM_PER_HOUR", 5, minimum=1)
# Retention (privacy/retention.py): a customer with no open order is erased this many months
# after their last order closed (or after they were recorded, with no order at all).
BOOKSHOP_RETENTION_CUSTOMER_MONTHS = env_int("BOOKSHOP_RETENTION_CUSTOMER_MONTHS", 24, minimum=1)
# Closed orders lose their book details (title, author, publisher, ISBN, reason for
# cancelling) this many months after they closed; dates, status and quantities stay.
BOOKSHOP_RETENTION_ORDER_DETAIL_MONTHS = env_int(
    "BOOKSHOP_RETENTION_ORDER_DETAIL_MONTHS", 13, minimum=1
)
# Hours an approved bulk export can be downloaded (once, by the person who asked for it).
BOOKSHOP_EXPORT_DOWNLOAD_HOURS = env_int("BOOKSHOP_EXPORT_DOWNLOAD_HOURS", 24, minimum=1)

# --- Mail: arrival notices go out from the app itself ------------------------------------
EMAIL_BACKEND = env_str(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("DJANGO_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int(
    "DJANGO_EMAIL_TIMEOUT", 10, minimum=1
)  # a stalled server must not hold a worker
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "shop@example.jp")

# --- Outbox and ISBN lookup (issue 16: customers/outbox.py, customers/isbn.py) -----------
# Minutes between tries of a notice mail the server refused or could not take; after the
# last one the notice is marked failed on the order (`python manage.py send_outbox`).
try:
    BOOKSHOP_OUTBOX_RETRY_MINUTES = [
        int(m) for m in env_list("BOOKSHOP_OUTBOX_RETRY_MINUTES", ["1", "5", "15", "60"])
    ]
except ValueError:
    raise ImproperlyConfigured(
        "BOOKSHOP_OUTBOX_RETRY_MINUTES is a comma-separated list of minutes, such as 1,5,15,60."
    ) from None
# Book details by ISBN: openBD first, NDL Search next; only the ISBN leaves the shop.
BOOKSHOP_ISBN_LOOKUP = env_bool("BOOKSHOP_ISBN_LOOKUP", True)
BOOKSHOP_ISBN_OPENBD_URL = env_str("BOOKSHOP_ISBN_OPENBD_URL", "https://api.openbd.jp/v1/get")
BOOKSHOP_ISBN_NDL_URL = env_str(
    "BOOKSHOP_ISBN_NDL_URL", "https://ndlsearch.ndl.go.jp/api/opensearch"
)
# Seconds for the whole lookup (both services together): the clerk is waiting.
BOOKSHOP_ISBN_TIMEOUT = env_int("BOOKSHOP_ISBN_TIMEOUT", 3, minimum=1)

# --- Audit (django-auditlog) -----------------------------------------------------------
AUDITLOG_DISABLE_REMOTE_ADDR = True  # privacy.middleware sets the address; it trusts no header
AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_LOGENTRY_MODEL = "privacy.AuditLogEntry"
# The data subject the privacy layers protect, named here so that they never import the app
# that defines it (as AUTH_USER_MODEL does for users).
SHIORI_SUBJECT_MODEL = "customers.Customer"
AUDITLOG_CID_GETTER = "privacy.core.context.current_cid"
# Number of reverse proxies in front of the app whose X-Forwarded-For may be trusted.
BOOKSHOP_TRUSTED_PROXIES = env_int("BOOKSHOP_TRUSTED_PROXIES", 0, minimum=0)

# --- Sessions, cookies and headers -----------------------------------------------------
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Idle timeout: the session expires this long after its last save. A signed-in staff
# member's session is saved at most once a minute when nothing else changed it
# (privacy/staff_sessions.py: ACTIVITY_WRITE_SECONDS), so the timeout holds within a minute.
SESSION_COOKIE_AGE = env_int("BOOKSHOP_SESSION_IDLE_MINUTES", 15, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Absolute timeout: one shift, however active the session (privacy/staff_sessions.py).
BOOKSHOP_SESSION_ABSOLUTE_HOURS = env_int("BOOKSHOP_SESSION_ABSOLUTE_HOURS", 12, minimum=1)
# Accounts (issue 15): re-authentication. Replacing the authenticator, changing the password,
# downloading a bulk export, releasing a disclosure and opening an hours override ask for the
# password (and code) again unless the person logged in or confirmed it this many minutes
# ago (privacy/staff/reauth.py).
BOOKSHOP_REAUTH_MINUTES = env_int("BOOKSHOP_REAUTH_MINUTES", 5, minimum=1)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    if SESSION_COOKIE_SECURE:
        SESSION_COOKIE_NAME = "__Host-sessionid"
        CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    # Subdomains and preload are on so that `check --deploy` is clean; a shop on a shared
    # domain or with Caddy's internal CA turns them off.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    if BOOKSHOP_TRUSTED_PROXIES:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # SQL parameters would carry ciphertext and blind indexes: never log them.
        "django.db.backends": {"level": "WARNING", "propagate": True},
    },
}

# --- Access (privacy/access.py) --------------------------------------------------------
# Days the counter team keeps a customer after the customer's last order closes.
BOOKSHOP_ACCESS_AFTER_CLOSE_DAYS = env_int("BOOKSHOP_ACCESS_AFTER_CLOSE_DAYS", 30, minimum=0)

# --- Records the law expects (issue 15, "records"; privacy/staff/records/) --------------
# Days between the manager's access reviews: once due, the review waits in their inbox.
BOOKSHOP_ACCESS_REVIEW_DAYS = env_int("BOOKSHOP_ACCESS_REVIEW_DAYS", 31, minimum=1)
# The access review flags an active account with no login for this many days.
BOOKSHOP_UNUSED_ACCOUNT_DAYS = env_int("BOOKSHOP_UNUSED_ACCOUNT_DAYS", 90, minimum=1)

# privacy.AuditLogEntry replaces auditlog's own LogEntry. auditlog's early migrations create
# their table regardless of the swap; an orphan table would then block test flushes on
# PostgreSQL, so auditlog's migrations are not run at all.
MIGRATION_MODULES = {"auditlog": None}

# --- Logins (django-axes, django-otp) --------------------------------------------------
AXES_FAILURE_LIMIT = env_int("BOOKSHOP_LOGIN_FAILURE_LIMIT", 5, minimum=1)
# Terminals (issue 15, "terminals"; privacy/staff/terminals.py): failures at one of the
# shop's registered terminals lock the account, whichever terminal tries it; failures from
# anywhere else lock only that name from that address, so nobody outside can lock the
# counter out. The counter PCs share one address: an address lockout there would lock every
# colleague out at once (hence axes.W006 silenced below).
AXES_LOCKOUT_PARAMETERS = "privacy.staff.terminals.lockout_parameters"
AXES_HANDLER = "privacy.staff.terminals.TerminalAwareAxesHandler"
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_COOLOFF_TIME = None  # locked until the administrator releases it
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "privacy.views.middleware.client_address"
AXES_DISABLE_ACCESS_LOG = True  # logins are in the audit log
AXES_VERBOSE = False
# Logins (task "logins"): axes keeps and counts a keyed hash of the typed name, never the
# name itself (it may be a customer's name typed into the wrong field).
AXES_USERNAME_CALLABLE = "privacy.staff.backends.axes_username"
OTP_TOTP_ISSUER = BOOKSHOP_SHOP_NAME

# --- Terminals (issue 15, "terminals"; privacy/staff/terminals.py) --------------------
# 1: customer data is shown only on the shop's registered terminals (the manager registers
# each from the computer itself). 0: on any computer, for a shop that cannot use them.
BOOKSHOP_REQUIRE_TERMINAL = env_bool("BOOKSHOP_REQUIRE_TERMINAL", True)
# The demo only (`make run` sets it): the first login from a browser registers that browser
# as a terminal, and says so. Never in a shop: it would make every browser a terminal (the
# system check privacy.W003 says so).
BOOKSHOP_DEMO_REGISTERS_TERMINAL = env_bool("BOOKSHOP_DEMO_REGISTERS_TERMINAL", False)

# --- Business hours (privacy/hours.py) -------------------------------------------------
# Customer data is readable only inside these hours, in BOOKSHOP_TIME_ZONE ("HH:MM-HH:MM").
BOOKSHOP_OPENING_HOURS = env_str("BOOKSHOP_OPENING_HOURS", "08:00-23:00")
BOOKSHOP_OVERRIDE_MAX_MINUTES = env_int("BOOKSHOP_OVERRIDE_MAX_MINUTES", 120, minimum=5)

# --- Second person (issue 15: privacy/staff/proposals.py) ------------------------------
# An opening outside business hours longer than this many minutes waits for a second person
# (another manager or the administrator); a shorter one opens at once.
BOOKSHOP_OVERRIDE_CONFIRM_MINUTES = env_int("BOOKSHOP_OVERRIDE_CONFIRM_MINUTES", 30, minimum=1)

# --- Audit review (privacy/audit_review.py) -------------------------------------------
BOOKSHOP_AUDIT_CHECKPOINTS = env_str(
    "BOOKSHOP_AUDIT_CHECKPOINTS", str(VAR_DIR / "audit-checkpoints.jsonl")
)
# One person reading more than this many customers within the window is flagged.
BOOKSHOP_FLAG_READS = env_int("BOOKSHOP_FLAG_READS", 60, minimum=1)
BOOKSHOP_FLAG_READS_MINUTES = env_int("BOOKSHOP_FLAG_READS_MINUTES", 10, minimum=1)
# This many failed logins within the window is a burst.
BOOKSHOP_FLAG_FAILED_LOGINS = env_int("BOOKSHOP_FLAG_FAILED_LOGINS", 5, minimum=1)
BOOKSHOP_FLAG_FAILED_LOGINS_MINUTES = env_int("BOOKSHOP_FLAG_FAILED_LOGINS_MINUTES", 10, minimum=1)
