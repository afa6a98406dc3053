"""Typed readers for environment variables.

Every setting comes from the environment through these helpers. They fail loudly: a value that
cannot be parsed raises ``ImproperlyConfigured`` naming the variable, instead of quietly falling
back to a default that might be insecure in production.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}.")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}.")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_url(name: str, default: str = "") -> str:
    """An absolute http(s) URL without a trailing slash, or "" when unset."""
    value = env_str(name, default).rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"{name} must start with http:// or https://, got {value!r}.")
    return value


# Keys that were published (old docker-compose default, the Dockerfile's former build-time key)
# or that look like a placeholder someone forgot to replace. Anyone can sign sessions, password
# reset links and sealed values with a published key, so production refuses to start with one.
PUBLISHED_SECRET_KEYS = frozenset(
    {
        "change-me-to-a-long-random-value-change-me-to-a-long-random",
        "collectstatic-only-build-key-not-secret-000000000000000000",
        "dev-only-insecure-key-never-use-in-production-0123456789abcdefghijklmnop",
    }
)
_PLACEHOLDER_MARKERS = (
    "django-insecure",
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "placeholder",
    "not-secret",
    "insecure-key",
    "your-secret",
    "secret-key-here",
)
SECRET_KEY_MIN_LENGTH = 50
# A random key has many distinct characters (hex: all 16; URL-safe base64: 40 or more).
SECRET_KEY_MIN_DISTINCT = 10


def secret_key_problem(key: str) -> str:
    """Why ``key`` is unfit for production, or ``""`` if it looks like a real random key."""
    if not key:
        return "empty"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"shorter than {SECRET_KEY_MIN_LENGTH} characters"
    if key in PUBLISHED_SECRET_KEYS:
        return "a published example key"
    lowered = key.lower()
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        return "a placeholder, not a random value"
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT:
        return f"made of fewer than {SECRET_KEY_MIN_DISTINCT} distinct characters"
    return ""
