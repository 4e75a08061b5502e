"""Settings for the threat-sharing portal, read from environment variables.

Every variable is documented in `.env.example`. Defaults are safe for development on one
machine (SQLite, local Redis, a local anvil chain); `PORTAL_ENV=production` refuses to start
without the secrets a real deployment needs.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    """A string setting; `NAME_FILE` (a path to a file holding the value) wins over `NAME`."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name) or default  # set-but-empty means "use the default"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


# --- Environment -------------------------------------------------------------------------
PORTAL_ENVIRONMENTS = ("development", "production")
PORTAL_ENV = env_str("PORTAL_ENV", "development")
if PORTAL_ENV not in PORTAL_ENVIRONMENTS:
    # A typo ("prod", "Production") must not quietly give development defaults.
    raise ImproperlyConfigured(
        f"PORTAL_ENV is {PORTAL_ENV!r}; it must be one of {', '.join(PORTAL_ENVIRONMENTS)}"
    )
PRODUCTION = PORTAL_ENV == "production"
# DEBUG shows settings and code to anyone who triggers an error: only where the environment
# says explicitly that it is development (scripts/run.sh does), never by default.
EXPLICIT_DEVELOPMENT = os.environ.get("PORTAL_ENV") == "development"
DEBUG = EXPLICIT_DEVELOPMENT and env_bool("DEBUG", True)
# The same for every development default (a known SECRET_KEY, ENCRYPTION_SECRET = SECRET_KEY,
# anvil's public sender key, webhooks to private addresses): a deployment that forgot to say
# what it is gets none of them, and refuses to start without its own secrets.
DEVELOPMENT_DEFAULTS = EXPLICIT_DEVELOPMENT
_NOT_DEVELOPMENT = "unless PORTAL_ENV=development is set explicitly"

_DEV_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEVELOPMENT_DEFAULTS else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(f"SECRET_KEY must be set {_NOT_DEVELOPMENT}")
if SECRET_KEY == _DEV_SECRET_KEY and not DEVELOPMENT_DEFAULTS:
    raise ImproperlyConfigured(
        f"SECRET_KEY is the public development key: set one of your own {_NOT_DEVELOPMENT}"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

# --- Applications ------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's session list
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "rest_framework",
    "drf_spectacular",
    "portal",
    "ledger",
    "sharing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the WSGI server (collected by `collectstatic`).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    # After authentication, messages and allauth: it redirects and explains why.
    "portal.middleware.RequireMFAForPrivilegedMiddleware",
    # Ends the session of a member whose organisation was suspended, saying why.
    "portal.middleware.SuspendedOrganisationMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------------
# SQLite is the embedded default; DATABASE_URL=postgres://... selects PostgreSQL.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for the writer instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
else:
    # Each process borrows connections from its own pool (psycopg_pool) for one request or
    # task and gives them back: connections are bounded by processes x DATABASE_POOL_MAX_SIZE,
    # whatever the number of clients. A request that waits longer than
    # DATABASE_POOL_TIMEOUT seconds for a connection fails instead of piling up.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 4),
        "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication ----------------------------------------------------------------------
# django-allauth is the only login (the Django admin's too): email and password, a verified
# address, then a second factor. Nobody signs up: people join through invitations, which
# create the account with its address verified (portal.views.accept_invitation).
AUTH_USER_MODEL = "portal.User"
# Django's and allauth's backends, refusing members of suspended organisations.
AUTHENTICATION_BACKENDS = [
    "portal.auth_backends.ModelBackend",
    "portal.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "portal.auth_adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_PREVENT_ENUMERATION = True
# No "you have no account" mails to addresses typed into the reset form by anyone.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# None: a "Remember me" box, unticked; without it the session ends with the browser.
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Energy CTI] "
# Counted in the Redis cache, per client address (see TRUSTED_PROXY_COUNT) and per email
# address ("key"). Five wrong passwords for one address lock it for five minutes, even with
# the right password; wrong second-factor codes count against the same limit.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": env_str("LOGIN_FAILED_RATE_LIMIT", "5/5m/key,20/5m/ip"),
    "reset_password": env_str("PASSWORD_RESET_RATE_LIMIT", "10/h/ip,3/h/key"),
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}

MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = True
# WebAuthn needs a secure origin; plain http://localhost is allowed only while debugging.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
MFA_TOTP_ISSUER = "Energy CTI portal"
# Publishers, organisation admins and platform admins without a second factor are sent to
# enrolment on every page (portal.middleware); readers may add one but are not forced.
MFA_REQUIRED_FOR_PRIVILEGED = env_bool("MFA_REQUIRED_FOR_PRIVILEGED", True)
# Session list with last address and time seen, so people can end their other sessions.
USERSESSIONS_TRACK_ACTIVITY = True
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation ----------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves STATIC_ROOT; outside production it also finds files where they lie, so the
# portal works before `collectstatic` has run.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", not PRODUCTION)

# --- Email -------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")
# SMTP, used with EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS (port 465) instead of STARTTLS
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
# Notices of deliveries (sharing.services.notifications): attempts before giving up, and the
# seconds to wait before attempt 2, 3, ... (the last value repeats).
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 6)
EMAIL_RETRY_DELAYS = [int(s) for s in env_list("EMAIL_RETRY_DELAYS", "60,300,1800,3600")]
# The hour (UTC) at which the daily digest goes out.
NOTIFICATION_DIGEST_HOUR = env_int("NOTIFICATION_DIGEST_HOUR", 6)

# --- Security ----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
if PRODUCTION:
    # The __Host- prefix makes browsers refuse these cookies unless Secure, Path=/ and
    # without Domain: no sibling subdomain can set or shadow them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Reverse proxies in front of the portal that append to X-Forwarded-For; the audit trail takes
# the client address from there (0: no proxy, REMOTE_ADDR is the client).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# The same count for allauth's rate limits (login lockout, password reset): behind N proxies
# the client is the Nth address from the right of X-Forwarded-For, as for the audit trail.
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
# Content Security Policy on every response (django-csp): scripts and styles from the
# portal's own static files only, no inline script or style; images may be data: URIs (the
# TOTP QR code). JSON data blocks (<script type="application/json">) are not scripts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "portal.schema.ErrorDocumentingAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env_str("API_RATE_LIMIT", "6000/minute")},
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Threat-sharing portal API",
    "DESCRIPTION": "Publish STIX 2.1 bundles, read your inbox with receipts, manage webhooks.",
    "VERSION": "1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The schema describes the API; the schema endpoint itself is not part of it.
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Cache and background work -----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "portal")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Webhook POSTs run on their own queue, served by their own worker pool (scripts/run.sh starts
# it), so a slow receiver never holds the workers that seal, anchor, deliver and verify. Empty
# means "<CELERY_QUEUE>.webhooks" (see portal.celery.route_task).
CELERY_WEBHOOK_QUEUE = env_str("CELERY_WEBHOOK_QUEUE")
# Every task has a soft limit (SoftTimeLimitExceeded is raised inside it; its rows stay claimed
# by state, so the sweeper re-drives them) and a hard one (the pool process is killed).
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", CELERY_TASK_SOFT_TIME_LIMIT + 30)
# The sweeper re-drives any row stuck in a stage: lost tasks delay work, never lose it.
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 15)
SWEEP_STUCK_AFTER_SECONDS = env_int("SWEEP_STUCK_AFTER_SECONDS", 60)
# Rows one run of a pipeline stage (seal, deliver, verify) claims at most; a full batch makes
# the task run again at once, so a backlog drains in batches of this size.
PIPELINE_BATCH_SIZE = env_int("PIPELINE_BATCH_SIZE", 500)
# How often the audit trail's head is sealed and anchored on-chain (only when it moved).
AUDIT_ANCHOR_INTERVAL_SECONDS = env_int("AUDIT_ANCHOR_INTERVAL_SECONDS", 300)
# The platform's Ed25519 public key (64 hex digits), pinned: verify_audit finds the anchored
# audit heads on chain by it, never by a label in the database (or pass it a trust root).
AUDIT_PLATFORM_PUBLIC_KEY = env_str("AUDIT_PLATFORM_PUBLIC_KEY")
CELERY_BEAT_SCHEDULE = {
    "sweep-pipeline": {
        "task": "sharing.tasks.sweep",
        "schedule": float(SWEEP_INTERVAL_SECONDS),
    },
    "anchor-audit-head": {
        "task": "portal.audit.tasks.anchor_audit_head",
        "schedule": float(AUDIT_ANCHOR_INTERVAL_SECONDS),
    },
    "watch-checkpoint-finality": {
        "task": "ledger.tasks.watch_finality",
        "schedule": float(env_int("LEDGER_FINALITY_INTERVAL_SECONDS", 30)),
    },
    "send-email-digests": {
        "task": "sharing.tasks.send_email_digests",
        "schedule": crontab(minute=0, hour=NOTIFICATION_DIGEST_HOUR),
    },
}

# --- Ledger ------------------------------------------------------------------------------
LEDGER_RPC_URL = env_str("LEDGER_RPC_URL", "http://127.0.0.1:8545")
# Address of the anchor registry; empty means "the one deployed by `manage.py deploy_anchor`".
LEDGER_CONTRACT_ADDRESS = env_str("LEDGER_CONTRACT_ADDRESS")
# The default is anvil's well-known first development account: public knowledge, worthless
# on any real chain. A real deployment must supply its own key.
_ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
LEDGER_SENDER_KEY = env_str("LEDGER_SENDER_KEY", _ANVIL_DEV_KEY if DEVELOPMENT_DEFAULTS else "")
if PRODUCTION and (not LEDGER_SENDER_KEY or LEDGER_SENDER_KEY == _ANVIL_DEV_KEY):
    raise ImproperlyConfigured("LEDGER_SENDER_KEY must be set to a key of your own in production")
if not DEVELOPMENT_DEFAULTS and LEDGER_SENDER_KEY.lower() == _ANVIL_DEV_KEY:
    # Anyone can sign with it: on a real chain it anchors nothing the portal alone controls.
    raise ImproperlyConfigured(
        f"LEDGER_SENDER_KEY is anvil's public development key: set one of your own "
        f"{_NOT_DEVELOPMENT}"
    )
# Blocks on top of the anchoring block before a checkpoint counts (1 = mined; QBFT is final).
LEDGER_CONFIRMATIONS = env_int("LEDGER_CONFIRMATIONS", 1)
# When an anchored checkpoint is final, so no reorganisation can take it away any more: a
# depth in blocks (counting the anchoring block; 1 on QBFT), or "finalized" for the node's
# finalized block tag (post-merge Ethereum). Until then the finality watch (every
# LEDGER_FINALITY_INTERVAL_SECONDS) anchors a checkpoint again if a reorganisation drops it.
_finality = env_str("LEDGER_FINALITY_DEPTH", "12")
if _finality != "finalized" and not (_finality.isdigit() and int(_finality) >= 1):
    raise ImproperlyConfigured(
        f'LEDGER_FINALITY_DEPTH must be a positive number of blocks or "finalized", '
        f"not {_finality!r}"
    )
LEDGER_FINALITY_DEPTH: int | str = _finality if _finality == "finalized" else int(_finality)
# The most entries one checkpoint may add, fixed in the contract when it is deployed.
LEDGER_MAX_GROWTH = env_int("LEDGER_MAX_GROWTH", 1_000_000)
LEDGER_TX_TIMEOUT_SECONDS = env_int("LEDGER_TX_TIMEOUT_SECONDS", 60)
# The anchor task waits up to LEDGER_TX_TIMEOUT_SECONDS for each transaction's confirmations
# and may send a few in a row (group commit): its limits are sized from that wait. A run cut
# short leaves its checkpoint submitted; the next run resumes it.
LEDGER_ANCHOR_SOFT_TIME_LIMIT = env_int(
    "LEDGER_ANCHOR_SOFT_TIME_LIMIT", 4 * LEDGER_TX_TIMEOUT_SECONDS + 60
)
# A pending anchor transaction is replaced with fees 1/8 higher after this many seconds, but
# never above the ceiling (wei per gas; 500 gwei by default).
LEDGER_FEE_BUMP_SECONDS = env_int("LEDGER_FEE_BUMP_SECONDS", 15)
LEDGER_MAX_FEE_PER_GAS = env_int("LEDGER_MAX_FEE_PER_GAS", 500 * 10**9)
# Secrets at rest (signing keys, webhook secrets) are encrypted with a key derived from this.
ENCRYPTION_SECRET = env_str("ENCRYPTION_SECRET", SECRET_KEY if DEVELOPMENT_DEFAULTS else "")
if PRODUCTION and (not ENCRYPTION_SECRET or ENCRYPTION_SECRET == SECRET_KEY):
    raise ImproperlyConfigured(
        "ENCRYPTION_SECRET must be set, and differ from SECRET_KEY, when PORTAL_ENV=production"
    )
if not DEVELOPMENT_DEFAULTS and (not ENCRYPTION_SECRET or ENCRYPTION_SECRET == SECRET_KEY):
    # A SECRET_KEY leaked (or rotated) must not also open every signing key at rest.
    raise ImproperlyConfigured(
        f"ENCRYPTION_SECRET must be set, and differ from SECRET_KEY, {_NOT_DEVELOPMENT}"
    )

# --- Community ---
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 7)
JOIN_REQUESTS_PER_HOUR = env_int("JOIN_REQUESTS_PER_HOUR", 5)

# --- Sharing -----------------------------------------------------------------------------
PUBLISH_MAX_BYTES = env_int("PUBLISH_MAX_BYTES", 5 * 1024 * 1024)
# A request repeating a bundle (same id, content and distribution) within this many seconds
# returns the original publication: clients retry after timeouts and 5xx answers.
PUBLISH_DEDUPLICATION_SECONDS = env_int("PUBLISH_DEDUPLICATION_SECONDS", 24 * 3600)
DATA_UPLOAD_MAX_MEMORY_SIZE = PUBLISH_MAX_BYTES + 64 * 1024
# Size limits of STIX content, the same for forms, uploads and the API: objects per bundle,
# characters of a name or label, of any other short string, of a description or pattern.
PUBLISH_MAX_OBJECTS = env_int("PUBLISH_MAX_OBJECTS", 1000)
STIX_MAX_NAME_CHARS = env_int("STIX_MAX_NAME_CHARS", 300)
STIX_MAX_STRING_CHARS = env_int("STIX_MAX_STRING_CHARS", 2048)
STIX_MAX_TEXT_CHARS = env_int("STIX_MAX_TEXT_CHARS", 20000)
# Outgoing webhooks never reach private, loopback, link-local or metadata addresses unless
# this allows it (tests and single-machine demos do).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", DEVELOPMENT_DEFAULTS)
# Wall time of one POST, all included: connecting, TLS, sending, reading the answer.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
# Bytes of a response body read at most (the rest is never read); redirects are not followed.
WEBHOOK_MAX_RESPONSE_BYTES = env_int("WEBHOOK_MAX_RESPONSE_BYTES", 4096)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
# POSTs one worker task sends at once (a batch of messages is sent by a thread pool). POSTs
# wait on the network, so threads are cheap, and a receiver that hangs holds only its thread:
# the rest of the batch goes on (bench/fanout.py).
WEBHOOK_CONCURRENCY = env_int("WEBHOOK_CONCURRENCY", 32)
# Messages one send task takes at most.
WEBHOOK_BATCH_SIZE = env_int("WEBHOOK_BATCH_SIZE", 100)
# Seconds to wait before attempt 2, 3, ...; the last value repeats. The default is the Standard
# Webhooks schedule: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
WEBHOOK_RETRY_DELAYS = [
    int(s) for s in env_list("WEBHOOK_RETRY_DELAYS", "5,300,1800,7200,18000,36000,36000")
]
# Each delay is spread at random by up to this fraction either way (0.1: +/-10%), so endpoints
# that failed together are not retried in lockstep.
WEBHOOK_RETRY_JITTER = env_float("WEBHOOK_RETRY_JITTER", 0.1)
# An endpoint whose attempts have all failed for this long is disabled and its organisation's
# admins are emailed; an endpoint answering 410 Gone is disabled at once.
WEBHOOK_DISABLE_AFTER_HOURS = env_int("WEBHOOK_DISABLE_AFTER_HOURS", 5 * 24)
# After a secret rotation, the old secret keeps signing (next to the new one) this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env_int("WEBHOOK_SECRET_OVERLAP_HOURS", 24)
# Limits of one send task: every round of WEBHOOK_CONCURRENCY POSTs takes at most
# WEBHOOK_TIMEOUT_SECONDS. A message stays claimed (leased) for the hard limit.
WEBHOOK_TASK_SOFT_TIME_LIMIT = (
    -(-WEBHOOK_BATCH_SIZE // max(WEBHOOK_CONCURRENCY, 1)) * WEBHOOK_TIMEOUT_SECONDS + 30
)
WEBHOOK_TASK_TIME_LIMIT = WEBHOOK_TASK_SOFT_TIME_LIMIT + 30
CELERY_TASK_ANNOTATIONS = {
    "ledger.tasks.anchor": {
        "soft_time_limit": LEDGER_ANCHOR_SOFT_TIME_LIMIT,
        "time_limit": LEDGER_ANCHOR_SOFT_TIME_LIMIT + 30,
    },
    **{
        f"sharing.tasks.{name}": {
            "soft_time_limit": WEBHOOK_TASK_SOFT_TIME_LIMIT,
            "time_limit": WEBHOOK_TASK_TIME_LIMIT,
        }
        for name in ("send_webhooks", "send_webhook")
    },
}

# --- TAXII 2.1 server (/taxii2/) -----------------------------------------------------------
TAXII_TITLE = env_str("TAXII_TITLE", "Threat-sharing portal")
# Objects per page when the client gives no `limit`, and the most a page holds.
TAXII_PAGE_SIZE = env_int("TAXII_PAGE_SIZE", 100)
TAXII_MAX_PAGE_SIZE = env_int("TAXII_MAX_PAGE_SIZE", 1000)
# TLP of an envelope whose objects carry no TLP marking (TAXII itself has none).
TAXII_DEFAULT_TLP = env_str("TAXII_DEFAULT_TLP", "amber")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
