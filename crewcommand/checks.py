"""System checks of the project's own."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


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
