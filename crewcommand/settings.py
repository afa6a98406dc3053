"""CrewCommand settings.

Every value comes from the environment (see ``.env.example`` for the full list). With nothing set,
the app runs as an embedded demo: SQLite, Celery tasks executed inline, email and SMS written to
the console. Production (``DEBUG=false``) refuses to start without a real secret key and hosts.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from crewcommand.lib.env import (
    env_bool,
    env_int,
    env_list,
    env_str,
    env_url,
    secret_key_problem,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core -------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)
_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdefghijklmnop"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")
TESTING = env_bool("CREWCOMMAND_TESTING", "pytest" in sys.modules)

if not DEBUG:
    if problem := secret_key_problem(SECRET_KEY):
        raise ImproperlyConfigured(
            f"SECRET_KEY must be set to a long random value (50+ characters) when DEBUG is off; "
            f"this one is {problem}. Make one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must list the site's host names when DEBUG is off."
        )
    if not SITE_URL.startswith("https://") and not env_bool("ALLOW_INSECURE_SITE_URL", False):
        raise ImproperlyConfigured("SITE_URL must be https:// when DEBUG is off.")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", SITE_URL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",  # trigram search indexes (skipped on SQLite)
    "django.forms",
    "django_htmx",
    "crewcommand",
    "documents",
    "portal",
    "billing",
    "automations",
    "booking",
    "reviews",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Customer pages only (portal, booking, review links): why that is safe is in its docstring.
    "crewcommand.middleware.CustomerPageGZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "crewcommand.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Cache-Control: private, no-store on every response to a logged-in user.
    "crewcommand.middleware.PrivateNoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After CSRF, CSP and htmx so its own answers (invalid links) get their headers too.
    "portal.middleware.PortalMiddleware",
    "crewcommand.middleware.HtmxMessagesMiddleware",
]

ROOT_URLCONF = "crewcommand.urls"
WSGI_APPLICATION = "crewcommand.wsgi.application"

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
                "django.template.context_processors.csp",
                "crewcommand.context_processors.app",
            ],
        },
    },
]

# --- Database and cache -----------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The pool is for web processes; Celery's Django fix-up closes connections around every
    # task, so workers run with DATABASE_POOL=false (see docker-compose.yml).
    if env_bool("DATABASE_POOL", True):
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN", 1, minimum=0),
            "max_size": env_int("DATABASE_POOL_MAX", 10, minimum=1),
            "timeout": 10,
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache; while Redis is down, a miss rather than a 500.
            "BACKEND": "crewcommand.lib.cache.ForgivingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "crewcommand"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Signature seals (portal.seal): an HMAC-SHA256 over every field of a signature record, keyed
# with this secret, so someone with write access to the database alone cannot forge or re-seal
# a record. A dedicated key, not SECRET_KEY: rotating SECRET_KEY (after a leak, routinely) must
# not invalidate every signature ever sealed, and the seal key can be kept out of processes that
# never sign or verify. Required when DEBUG is off; in development and tests an HKDF derivation
# of SECRET_KEY stands in. Rotate by moving the old key to SIGNATURE_SEAL_KEY_FALLBACKS (rows
# store the id of the key that sealed them, so old rows keep verifying).
SIGNATURE_SEAL_KEY = env_str("SIGNATURE_SEAL_KEY")
SIGNATURE_SEAL_KEY_FALLBACKS = env_list("SIGNATURE_SEAL_KEY_FALLBACKS")
if not DEBUG and (len(SIGNATURE_SEAL_KEY) < 32 or SIGNATURE_SEAL_KEY == SECRET_KEY):
    raise ImproperlyConfigured(
        "SIGNATURE_SEAL_KEY must be set to its own long random value (32+ characters, not the "
        "SECRET_KEY) when DEBUG is off: it seals signature records."
    )

# Portal links: invalid-token attempts allowed per client IP (IPv6: per /64) and window
# (seconds), counted in the cache (shared Redis in production). Past the limit further invalid
# tokens from that address get 429; valid links keep working.
PORTAL_INVALID_LINK_LIMIT = env_int("PORTAL_INVALID_LINK_LIMIT", 30, minimum=1)
PORTAL_INVALID_LINK_WINDOW = env_int("PORTAL_INVALID_LINK_WINDOW", 900, minimum=1)
# Portal views are counted in the cache and written in one UPDATE per link this many seconds
# after the first of a burst (portal/visits.py): no database write on a customer's GET.
PORTAL_VIEW_FLUSH_SECONDS = env_int("PORTAL_VIEW_FLUSH_SECONDS", 10, minimum=1)
# The public booking page and the review landing page remember the row they looked up (a
# company by slug, a review request by its token's hash) for this many seconds in each process
# (crewcommand/lib/recent.py): a change shows on those two GET pages at most this late. 0: off
# (the default in tests, which turn it on where they test it).
PUBLIC_ROW_SECONDS = env_int("PUBLIC_ROW_SECONDS", 0 if TESTING else 1, minimum=0, maximum=5)
# Number of reverse proxies in front of the app that append to X-Forwarded-For (0: use
# REMOTE_ADDR, and ignore X-Forwarded-For, which a client can forge). Behind a proxy or load
# balancer, leave it at 0 and every client shares the proxy's address: one bucket for all rate
# limits, and the proxy's IP in signature audit trails. Used by crewcommand.lib.http.client_ip.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# bench/pages.py only: a directory of page bodies that /__floor__/<name>/ answers with, through
# the whole middleware stack (the framework's floor for that page). Unset, the URL does not
# exist; ``check --deploy`` warns if it is ever set outside a bench.
BENCH_FLOOR_DIR = env_str("CREWCOMMAND_BENCH_FLOOR_DIR")

# --- Auth -------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing cost is irrelevant in tests and dominates their run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Sign-in by email in any case (crewcommand.backends). Django's ModelBackend stays second so
# sessions made before the switch (which name it) stay signed in.
AUTHENTICATION_BACKENDS = [
    "crewcommand.backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"
INVITATION_MAX_AGE_DAYS = env_int("INVITATION_MAX_AGE_DAYS", 7, minimum=1)
# A signup confirmation link (emailed; the account is made when it is opened) lasts this long.
SIGNUP_LINK_MAX_AGE_HOURS = env_int("SIGNUP_LINK_MAX_AGE_HOURS", 48, minimum=1)
# Brute-force limits (crewcommand.ratelimits), as django-ratelimit rates ("count/period").
# Per client address (IPv6: per /64) and per account or email address; counted in the
# default cache. Logins count failures; password-reset and signup mail count per address.
AUTH_RATE_LIMITS = {
    "login_ip": env_str("RATE_LIMIT_LOGIN_IP", "30/15m"),
    "login_account": env_str("RATE_LIMIT_LOGIN_ACCOUNT", "10/15m"),
    "password_reset_ip": env_str("RATE_LIMIT_PASSWORD_RESET_IP", "10/h"),
    "password_reset_address": env_str("RATE_LIMIT_PASSWORD_RESET_ADDRESS", "3/h"),
    "signup_ip": env_str("RATE_LIMIT_SIGNUP_IP", "10/h"),
    "signup_address": env_str("RATE_LIMIT_SIGNUP_ADDRESS", "3/h"),
}
for _name, _rate in AUTH_RATE_LIMITS.items():
    if not re.fullmatch(r"[1-9]\d*/\d*[smhd]", _rate):
        raise ImproperlyConfigured(f"RATE_LIMIT_{_name.upper()} must look like 10/15m: {_rate!r}")

# --- Internationalisation ---------------------------------------------------------------------

LANGUAGE_CODE = "en-ca"
LANGUAGES = [("en-ca", _("English")), ("fr-ca", _("French (Canada)"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Toronto"
USE_I18N = True
USE_TZ = True

# --- Static and media files -------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # The manifest storage needs collectstatic, which development and tests skip.
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Serve straight from the finders in development and tests (no collectstatic there).
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
WHITENOISE_USE_FINDERS = DEBUG or TESTING
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Email (Django 6.1 MAILERS) ---------------------------------------------------------------


def _mailers_from_url(url: str) -> dict:
    """``smtp://user:pass@host:587?tls=true`` → a MAILERS entry; empty → console."""
    if not url:
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if parts.scheme == "console":
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "locmem":
        return {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if parts.scheme == "file":
        return {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": parts.path},
        }
    if parts.scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(
            f"EMAIL_URL scheme must be smtp, smtps, file or console: {url!r}"
        )
    # Django's SMTP backend with the outbox's hand-off at the end of DATA
    # (crewcommand.messaging.smtp; README, "Messaging").
    return {
        "BACKEND": "crewcommand.messaging.smtp.EmailBackend",
        "OPTIONS": {
            "host": parts.hostname or "localhost",
            "port": parts.port or (465 if parts.scheme == "smtps" else 587),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": parts.scheme == "smtps",
            "use_tls": parts.scheme == "smtp" and query.get("tls", "true") != "false",
            "timeout": 10,
        },
    }


MAILERS = {"default": _mailers_from_url(env_str("EMAIL_URL"))}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CrewCommand <no-reply@crewcommand.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security ---------------------------------------------------------------------------------

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# No inline script anywhere: scripts and styles come from our own origin, or carry the
# per-request nonce. Checkout is a redirect, so Stripe's origin is allowed as a form target.
STRIPE_CHECKOUT_ORIGIN = env_url("STRIPE_CHECKOUT_ORIGIN", "https://checkout.stripe.com")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF, STRIPE_CHECKOUT_ORIGIN],
}

# --- Celery -----------------------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
# Tests run tasks inline unless a test starts a real worker (tests/conftest.py).
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or TESTING
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must never hold a request when Redis is down: the row is committed and beat
# re-enqueues it (crewcommand.messaging.outbox). kombu's default is to retry the connection
# once after 2 s (``interval_start``) on every publish, and Celery's publish retry adds up to
# 0.6 s more; with these a publish to a dead broker fails in milliseconds (refused) or after
# one second (unreachable host), and the outbox stops trying for a few seconds after that.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 0,  # kombu: connection retries inside one publish
    "socket_connect_timeout": env_int("CELERY_BROKER_CONNECT_TIMEOUT", 1, minimum=1),
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}
# The worker reconnects to a lost broker every second, not after up to 30 s (kombu's backoff):
# messages committed while Redis was down go out within a minute of its return.
CELERY_WORKER_CONSUMER = "crewcommand.celery_consumer:Consumer"
# …forever (Celery's 100 attempts would last 100 s at one a second, then stop the worker).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "crewcommand")
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}
# Billing: ask Stripe about card payments whose webhook never arrived (billing.tasks).
CELERY_BEAT_SCHEDULE["billing-reconcile-payments"] = {
    "task": "billing.tasks.reconcile_payments",
    "schedule": 300.0,
}
# …and, every 30 s, about attempts the customer came back from but that are not confirmed yet
# (one indexed query when there are none), so a lost webhook is healed within a minute.
# Autopay: sent invoices due today charged to saved cards (idempotent per invoice and amount).
CELERY_BEAT_SCHEDULE["billing-autopay-due-invoices"] = {
    "task": "billing.tasks.autopay_due_invoices",
    "schedule": 3600.0,
}
# Stripe events stored by the webhook whose processing task was lost (broker down at commit,
# worker killed), or left "processing" by a killed worker (one indexed query when none).
CELERY_BEAT_SCHEDULE["billing-requeue-stripe-events"] = {
    "task": "billing.tasks.requeue_stripe_events",
    "schedule": 30.0,
}
# Receipts a webhook queued after commit but whose task was lost (one indexed query when none).
CELERY_BEAT_SCHEDULE["billing-send-missing-receipts"] = {
    "task": "billing.tasks.send_missing_receipts",
    "schedule": 300.0,
}
CELERY_BEAT_SCHEDULE["billing-reconcile-returned-payments"] = {
    "task": "billing.tasks.reconcile_returned_payments",
    "schedule": 30.0,
}
# QuickBooks: push records that are due (retries with backoff, claims left by a dead worker)
# and pull payments entered in QuickBooks against synced invoices.
CELERY_BEAT_SCHEDULE["quickbooks-sweep"] = {
    "task": "billing.quickbooks.tasks.sweep",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["quickbooks-pull-payments"] = {
    "task": "billing.quickbooks.tasks.pull_payments",
    "schedule": 600.0,
}
# Automations: fire the time triggers that are due (estimate follow-ups, overdue invoices, job
# reminders); each fires once per object, so a late or repeated scan is harmless.
CELERY_BEAT_SCHEDULE["automations-scan-due"] = {
    "task": "automations.tasks.scan_due",
    "schedule": 300.0,
}

# Messaging: a row left "sending" this long was abandoned by a killed worker and is sent again
# (longer than a task may run, so a live worker is never overtaken).
MESSAGING_SENDING_LEASE_SECONDS = env_int(
    "MESSAGING_SENDING_LEASE_SECONDS", CELERY_TASK_TIME_LIMIT + 60, minimum=1
)
# Messaging: a row beat re-enqueued is not re-enqueued again before this (a long backlog).
MESSAGING_REQUEUE_AGAIN_SECONDS = env_int("MESSAGING_REQUEUE_AGAIN_SECONDS", 120, minimum=1)
# Messaging: re-enqueue outbox rows that never left (broker down at commit, worker killed).
CELERY_BEAT_SCHEDULE["messaging-requeue"] = {
    "task": "crewcommand.tasks.requeue_messages",
    "schedule": env_int("MESSAGING_REQUEUE_SECONDS", 10, minimum=1) * 1.0,
}

# --- Providers (each falls back to a clear "not configured" behaviour) -----------------------

STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_CONNECT_WEBHOOK_SECRET = env_str("STRIPE_CONNECT_WEBHOOK_SECRET")
STRIPE_API_BASE = env_url("STRIPE_API_BASE")
STRIPE_ENABLED = bool(STRIPE_SECRET_KEY)
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 0 if TESTING else 2, minimum=0)
# A Checkout Session lives this long: Stripe takes 30 minutes to 24 hours (1440), and refuses
# every session outside that range, so the process refuses to start with such a value. A shorter
# life means fewer stale sessions that could be paid after the balance changed.
BILLING_CHECKOUT_EXPIRY_MINUTES = env_int(
    "BILLING_CHECKOUT_EXPIRY_MINUTES", 60, minimum=30, maximum=24 * 60
)
# Reconciliation asks Stripe about card attempts still open after this many minutes.
BILLING_RECONCILE_AFTER_MINUTES = env_int("BILLING_RECONCILE_AFTER_MINUTES", 15, minimum=1)
# The customer's return page asks Stripe about its attempt at most once per this many seconds,
# however often it is loaded or polled.
BILLING_RETURN_CHECK_SECONDS = env_int("BILLING_RETURN_CHECK_SECONDS", 20, minimum=1)
# Stripe calls made while a customer's page waits (the return page, pressing Pay again) give
# up after this many seconds, without retrying: a hanging Stripe must not hang the page.
STRIPE_PAGE_TIMEOUT_SECONDS = env_int("STRIPE_PAGE_TIMEOUT_SECONDS", 4, minimum=1)

TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID")
TWILIO_API_BASE = env_url("TWILIO_API_BASE")
TWILIO_ENABLED = bool(TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)

QUICKBOOKS_CLIENT_ID = env_str("QUICKBOOKS_CLIENT_ID")
QUICKBOOKS_CLIENT_SECRET = env_str("QUICKBOOKS_CLIENT_SECRET")
QUICKBOOKS_ENVIRONMENT = env_str("QUICKBOOKS_ENVIRONMENT", "sandbox")
QUICKBOOKS_DISCOVERY_URL = env_url("QUICKBOOKS_DISCOVERY_URL")
QUICKBOOKS_API_BASE = env_url("QUICKBOOKS_API_BASE")
QUICKBOOKS_ENABLED = bool(QUICKBOOKS_CLIENT_ID and QUICKBOOKS_CLIENT_SECRET)
# Where Intuit sends the owner back after consent; must be listed in the Intuit app's
# redirect URIs. Empty: SITE_URL + /app/billing/quickbooks/callback/.
QUICKBOOKS_REDIRECT_URI = env_url("QUICKBOOKS_REDIRECT_URI")
# QuickBooks tokens are encrypted at rest (Fernet). QUICKBOOKS_TOKEN_KEYS: Fernet keys, comma
# separated, newest first (rotation: prepend a new key, keep the old one until re-encrypted).
# Without them a key is derived (HKDF) from QUICKBOOKS_TOKEN_SECRET. Never from SECRET_KEY:
# with neither set, connecting refuses with a clear message.
QUICKBOOKS_TOKEN_KEYS = env_list("QUICKBOOKS_TOKEN_KEYS")
QUICKBOOKS_TOKEN_SECRET = env_str("QUICKBOOKS_TOKEN_SECRET")
# Refresh the access token this many seconds before it expires.
QUICKBOOKS_REFRESH_MARGIN_SECONDS = env_int("QUICKBOOKS_REFRESH_MARGIN_SECONDS", 300, minimum=0)
QUICKBOOKS_MINOR_VERSION = env_int("QUICKBOOKS_MINOR_VERSION", 75, minimum=75)
QUICKBOOKS_MAX_ATTEMPTS = env_int("QUICKBOOKS_MAX_ATTEMPTS", 8, minimum=1)
# Intuit webhooks (optional): the app's "verifier token". Set, /webhooks/quickbooks/ accepts
# signed notifications and pulls the company's payments at once; unset, it answers 404 and the
# periodic pull alone brings payments back.
QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN = env_str("QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN")

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_tokens": {"()": "crewcommand.lib.logging.RedactTokensFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens"],
        },
        # Django's default error mail, with secret-link tokens redacted.
        "mail_admins": {
            "class": "crewcommand.lib.logging.RedactingAdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "redact_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's default handlers for "django" (django.security.*, django.template…),
        # which print or mail messages that can carry /p/<token>/ paths unredacted.
        "django": {"handlers": ["console", "mail_admins"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # 4xx warnings to the console; 500s also to the (redacted) error mail, as Django does.
        "django.request": {
            "handlers": ["console", "mail_admins"],
            "level": "WARNING",
            "propagate": False,
        },
        # WeasyPrint narrates every render at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# django-ratelimit refuses local memory (E003) and names only memcached and django-redis as
# supported (W001). Django's own Redis cache has atomic add/incr and works; local memory counts
# per process, which the embedded single-process demo can live with. Production without Redis
# gets crewcommand.checks' deploy warning instead.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

FORM_RENDERER = "crewcommand.forms.FormRenderer"
