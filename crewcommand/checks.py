"""Project system checks (``manage.py check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
CONSOLE_MAILER = "django.core.mail.backends.console.EmailBackend"


@checks.register(checks.Tags.security, deploy=True)
def rate_limits_need_a_shared_cache(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Login, signup, password-reset and portal-link limits count in the default cache: with
    several processes and a local-memory cache, each process keeps its own count."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend in LOCAL_CACHES:
        return [
            checks.Warning(
                "Rate limits count in a local-memory cache: each process keeps its own count.",
                hint="Set REDIS_URL so every web process shares one count.",
                id="crewcommand.W001",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def console_mailer_in_production(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The console mailer prints every email, with its secret links (password reset, portal,
    invitation), to the process output. The log filters cannot redact it without making the
    console mailer useless for development, so production is told to configure real mail."""
    mailer = settings.MAILERS.get("default", {}).get("BACKEND", "")
    if settings.DEBUG or mailer != CONSOLE_MAILER:
        return []
    return [
        checks.Warning(
            "EMAIL_URL is console:// with DEBUG off: every email, with its password reset, "
            "portal and invitation links, is printed to the logs.",
            hint="Set EMAIL_URL to smtp://… or smtps://… (see .env.example).",
            id="crewcommand.W002",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def bench_floor_off(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """``/__floor__/`` (bench/pages.py's reference view) exists only for a bench."""
    if not settings.BENCH_FLOOR_DIR:
        return []
    return [
        checks.Warning(
            "CREWCOMMAND_BENCH_FLOOR_DIR is set: /__floor__/<name>/ serves files from it.",
            hint="Unset it; only bench/pages.py sets it, on its own loopback server.",
            id="crewcommand.W003",
        )
    ]
