"""Entries that apps above the core add to the dashboard's sidebar, with an optional badge
count (the core never names them). An app calls ``register`` from its ``AppConfig.ready()``;
the sidebar (``templates/layouts/dashboard.html``) lists them after the core's own entries,
through the ``nav_entries`` context variable (``crewcommand.context_processors.app``), which
is only computed when a page shows the sidebar: one badge query per entry, per page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.urls import reverse

if TYPE_CHECKING:
    from crewcommand.models import Company, Member


@dataclass(frozen=True)
class NavEntry:
    label: Any  # a lazy translation
    url_name: str
    namespace: str  # the entry is "current" on every page of this URL namespace
    action: str = "dashboard.view"
    badge: Callable[[Company], int] | None = None
    badge_label: Any = ""  # e.g. "new requests", read after the count by screen readers


ENTRIES: list[NavEntry] = []


def register(entry: NavEntry) -> None:
    if all(e.url_name != entry.url_name for e in ENTRIES):
        ENTRIES.append(entry)


def entries_for(member: Member | None, namespace: str | None) -> list[dict[str, Any]]:
    """The registered entries ``member`` may see, with their URL, badge count and whether the
    current page (by URL namespace) is one of theirs."""
    from crewcommand.permissions import member_can

    if member is None:
        return []
    found = []
    for entry in ENTRIES:
        if not member_can(member, entry.action):
            continue
        found.append(
            {
                "label": entry.label,
                "url": reverse(entry.url_name),
                "current": namespace == entry.namespace,
                "badge": entry.badge(member.company) if entry.badge else 0,
                "badge_label": entry.badge_label,
            }
        )
    return found
