"""Project system checks (``manage.py check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register

CONSOLE_MAILER = "django.core.mail.backends.console.EmailBackend"


@register(Tags.security, deploy=True)
def console_mailer_in_production(app_configs, **kwargs) -> list[Warning]:
    """The console mailer prints every email, with its secret links (password reset, portal,
    invitation), to the process output. The log filters cannot redact it without making the
    console mailer useless for development, so production is told to configure real mail."""
    mailer = settings.MAILERS.get("default", {}).get("BACKEND", "")
    if settings.DEBUG or mailer != CONSOLE_MAILER:
        return []
    return [
        Warning(
            "EMAIL_URL is console:// with DEBUG off: every email, with its password reset, "
            "portal and invitation links, is printed to the logs.",
            hint="Set EMAIL_URL to smtp://… or smtps://… (see .env.example).",
            id="crewcommand.W001",
        )
    ]
