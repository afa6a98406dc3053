"""The list pages' skeleton (customers, jobs, estimates, invoices, payments), in one place.

A list page is its rows paginated ``PAGE_SIZE`` at a time (``?page=``, out-of-range and junk
pages land on the nearest real one) inside the page template. The search box and the filters
ask again with htmx and swap only the template's ``results`` partial; a boosted navigation
(and any request without JavaScript) gets the whole page.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

__all__ = ["PAGE_SIZE", "is_partial", "paginate", "render_list"]

PAGE_SIZE = 25


def paginate(request: HttpRequest, rows: Any) -> Page:
    """The page of ``rows`` that ``?page=`` asks for."""
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


def is_partial(request: HttpRequest) -> bool:
    """An htmx request that is not a boosted navigation: it swaps a part of the page (a list's
    results, a panel), not the whole page."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.boosted


def render_list(
    request: HttpRequest, template: str, rows: Any, context: dict[str, Any] | None = None
) -> HttpResponse:
    """Render a list page: ``page`` (``rows`` paginated) and ``context`` into ``template``, or
    into its ``#results`` partial for an htmx search or filter."""
    if is_partial(request):
        template += "#results"
    return render(request, template, {"page": paginate(request, rows), **(context or {})})
