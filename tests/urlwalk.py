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


def dashboard_objects(*, owner, customer, job) -> dict:
    """One object of every kind a dashboard URL can name, all owned by the owner's company.

    When an app adds a URL with a new kwarg, add it in ``tests/<app>/tenancy.py``: the walks
    fail until then, so no URL escapes them."""
    from crewcommand.services import invitation_create

    invitation = invitation_create(
        company=owner.company, by=owner.user, email="new@example.com", role="office"
    )
    objects = {
        "customer_id": customer.public_id,
        "job_id": job.public_id,
        "invitation_id": invitation.public_id,
    }
    for extend in load_extensions():
        objects.update(extend(owner=owner, customer=customer, job=job))
    return objects


def url_for(route: Route, objects: dict, **overrides: str) -> str:
    """Fill the route's kwargs; an entry named after the route overrides shared ones (an
    invoice line URL needs the invoice's line, not the estimate's)."""
    from django.urls import reverse

    values = {**objects, **objects.get(route.name, {}), **overrides}
    missing = set(route.kwargs) - set(values)
    assert not missing, f"{route.name} takes {missing}: add an object in tests/<app>/tenancy.py"
    return reverse(route.name, kwargs={k: values[k] for k in route.kwargs})


def portal_routes() -> list[Route]:
    """Every named route under /p/ (the customer portal, including billing's pay pages)."""
    return [r for r in _walk(get_resolver().url_patterns, "", None) if r.route.startswith("p/")]
