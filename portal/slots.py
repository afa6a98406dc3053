"""Places on the portal's pages that apps above the portal fill in (the portal itself never
names them). A page marks a slot with ``{% portal_slot "name" %}`` (``portal_slots`` tag
library); an app adds a template to it from its ``AppConfig.ready()`` with ``fill``. Each
template renders server-side, in the page's own context, like an ``{% include %}``: no extra
request and no JavaScript, and an empty slot renders nothing.

The slots:
- ``estimate_deposit``: an accepted estimate's deposit (context: portal, company, estimate,
  deposit, totals);
- ``invoice_summary``: beside the balance due at the top of an invoice with a balance that is
  not void, so the way to pay is in sight without scrolling on a wide screen (context:
  portal, company, invoice);
- ``invoice_pay``: how to pay an invoice with a balance that is not void (context: portal,
  company, invoice); a direct child of the page's ``<main>``;
- ``invoice_payments``: the payments received on an invoice (context: portal, invoice);
- ``home_actions``: actions on the portal's home, above the documents (context: portal,
  company).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.models import PortalLink

SLOTS: dict[str, list[str]] = {
    "estimate_deposit": [],
    "invoice_summary": [],
    "invoice_pay": [],
    "invoice_payments": [],
    "home_actions": [],
}


# Slot templates whose whole state is in a cached page's key (``fill(..., keyed=True)``).
KEYED: set[str] = set()


def fill(slot: str, template_name: str, *, keyed: bool = False) -> None:
    """Render ``template_name`` in ``slot`` (after any template already there).

    ``keyed``: everything the template reads is in the key of the page cache
    (``crewcommand.lib.pagecache``): the link's own rows (company, customer, document, the
    revisions shown), the relations loaded with ``load_with_link``, the link's
    ``annotate_link`` values and the app's ``key_with`` state. A slot whose templates are all
    keyed is rendered into the cached page; any other is rendered live on every answer."""
    if slot not in SLOTS:
        raise ValueError(f"The portal has no slot {slot!r}.")
    if template_name not in SLOTS[slot]:
        SLOTS[slot].append(template_name)
    if keyed:
        KEYED.add(template_name)
    else:
        KEYED.discard(template_name)


def keyed(slot: str) -> bool:
    """Whether ``slot`` can be rendered into a cached page (every template in it is keyed)."""
    return all(name in KEYED for name in SLOTS[slot])


def templates(slot: str) -> list[str]:
    return SLOTS[slot]


# Relations of the link's company, customer or document that slot templates read, loaded with
# the link in the middleware's one query (``select_related`` paths from PortalLink), so a slot
# costs no query for them (rendered live in every answer, or keyed into the cached page).
LINK_RELATED: list[str] = []


def load_with_link(path: str) -> None:
    """Load ``path`` (a ``select_related`` path from PortalLink) with every portal link."""
    if path not in LINK_RELATED:
        LINK_RELATED.append(path)


# Values computed by the database in the link's one query (``name`` → a function returning
# an expression over PortalLink, e.g. a ``Subquery`` of the document's payments), set on the
# link as attributes: state a keyed slot needs, fetched in the same round trip as the page's.
LINK_ANNOTATIONS: dict[str, Callable[[], Any]] = {}


def annotate_link(name: str, expression: Callable[[], Any]) -> None:
    """Add ``expression()`` to the link's one query as ``link.<name>``."""
    LINK_ANNOTATIONS[name] = expression


# Functions of a loaded link returning the state that the app's keyed slot templates read
# beyond the page's own rows (plain values with a stable ``repr``: the key is a hash of it);
# every cached portal page's key holds their results.
KEY_PARTS: list[Callable[[PortalLink], Hashable]] = []


def key_with(state: Callable[[PortalLink], Hashable]) -> None:
    """Put ``state(link)`` in the key of every cached portal page."""
    if state not in KEY_PARTS:
        KEY_PARTS.append(state)


def page_state(link: PortalLink) -> tuple:
    """The apps' state for ``link`` (``key_with``), for a page's key."""
    return tuple(state(link) for state in KEY_PARTS)
