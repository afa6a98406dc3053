"""Walks the URL configuration so tenancy tests cover every contractor URL, including ones that
apps add later, without anyone having to list them."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Apps with their own dashboard objects append factories ``(owner, customer, job) -> {kwarg: id}``
# from a module ``tests/<app>/tenancy.py``; ``load_extensions`` imports them all, so the tenancy
# walk can fill every URL kwarg whichever tests are selected.
EXTENSIONS: list = []


def load_extensions() -> list:
    import importlib
    from pathlib import Path

    for module in sorted(Path(__file__).parent.glob("*/tenancy.py")):
        importlib.import_module(f"tests.{module.parent.name}.tenancy")
    return EXTENSIONS


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    route: str
    kwargs: tuple[str, ...]


def _walk(patterns, prefix: str, namespace: str | None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns and namespace and entry.namespace:
                ns = f"{namespace}:{entry.namespace}"
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            full = f"{namespace}:{entry.name}" if namespace else entry.name
            route = prefix + str(entry.pattern)
            yield Route(full, route, tuple(entry.pattern.converters))


def contractor_routes() -> list[Route]:
    """Every named route under /app/ (the contractor dashboard)."""
    return [r for r in _walk(get_resolver().url_patterns, "", None) if r.route.startswith("app/")]


def portal_routes() -> list[Route]:
    """Every named route under /p/ (the customer portal, including billing's pay pages)."""
    return [r for r in _walk(get_resolver().url_patterns, "", None) if r.route.startswith("p/")]
