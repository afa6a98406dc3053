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

SLOTS: dict[str, list[str]] = {
    "estimate_deposit": [],
    "invoice_summary": [],
    "invoice_pay": [],
    "invoice_payments": [],
    "home_actions": [],
}


def fill(slot: str, template_name: str) -> None:
    """Render ``template_name`` in ``slot`` (after any template already there)."""
    if slot not in SLOTS:
        raise ValueError(f"The portal has no slot {slot!r}.")
    if template_name not in SLOTS[slot]:
        SLOTS[slot].append(template_name)


def templates(slot: str) -> list[str]:
    return SLOTS[slot]


# Relations of the link's company, customer or document that slot templates read, loaded with
# the link in the middleware's one query (``select_related`` paths from PortalLink), so a slot
# rendered in every answer (the page cache renders slots live) costs no query for them.
LINK_RELATED: list[str] = []


def load_with_link(path: str) -> None:
    """Load ``path`` (a ``select_related`` path from PortalLink) with every portal link."""
    if path not in LINK_RELATED:
        LINK_RELATED.append(path)
