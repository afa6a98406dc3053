"""Who may do what: the one table of actions and the roles allowed to take them.

Views name the action they need (``member_required(action="invoice.void")``, or
``require(request, "estimate.revise")`` when the action depends on the object) and templates
hide what the role can't use (``{% if member|can:"invoice.void" %}``); nothing else decides.
Actions are plain strings so that the core can name actions of the apps above it without
importing them. ``tests/core/test_permissions.py`` walks every dashboard URL with every role
against this table, and fails for a URL that takes a POST without naming its action.

The split: everyone in the company does the work (sees customers, jobs and documents, adds
and edits customers and jobs, moves a job along, writes and edits *draft* estimates and
invoices). Owners and office staff commit the company to a customer (send documents, issue
customer links, revise a sent estimate, convert an accepted one) and keep the ledger (record
payments, refunds, void invoices, resolve payment issues). Only owners change the company:
settings, the team, the Stripe connection.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from crewcommand.models import Member, Role

EVERYONE = frozenset(Role.values)
MANAGERS = frozenset({Role.OWNER, Role.OFFICE})
OWNERS = frozenset({Role.OWNER})

PERMISSIONS: dict[str, frozenset[str]] = {
    # Seeing the work: home, lists, detail pages, PDFs, panels, signature checks.
    "dashboard.view": EVERYONE,
    # Customers and jobs.
    "customer.edit": EVERYONE,
    "job.edit": EVERYONE,
    "job.status": EVERYONE,
    # Estimates. Editing a sent estimate starts a new revision, so it needs estimate.revise.
    "estimate.create": EVERYONE,
    "estimate.edit": EVERYONE,
    "estimate.duplicate": EVERYONE,
    "estimate.send": MANAGERS,
    "estimate.revise": MANAGERS,
    "estimate.convert": MANAGERS,
    # Invoices (only drafts can be edited; the services refuse the rest).
    "invoice.create": EVERYONE,
    "invoice.edit": EVERYONE,
    "invoice.duplicate": EVERYONE,
    "invoice.send": MANAGERS,
    "invoice.void": MANAGERS,
    # Customer links (the portal): issuing, revoking and regenerating them.
    "link.manage": MANAGERS,
    # The ledger.
    "payment.view": MANAGERS,
    "payment.record": MANAGERS,
    "payment.refund": MANAGERS,
    "payment.resolve_issue": MANAGERS,
    # Service requests (booking): anyone who may add customers and jobs may turn a request
    # into one, or dismiss it; the booking page's settings are the company's.
    "request.convert": EVERYONE,
    "request.dismiss": EVERYONE,
    "booking.settings": OWNERS,
    # Review requests: asking a customer for a review (and recording that they'd rather not be
    # asked) speaks for the company, like sending a document; the throttle is a company setting.
    "review.send": MANAGERS,
    "review.settings": OWNERS,
    # Automations (automated SMS and email): everyone sees them; owners write them, since they
    # speak for the company to every customer.
    "automation.edit": OWNERS,
    # Messages: writing to a customer from their page speaks for the company.
    "message.send": MANAGERS,
    # The company.
    "company.settings": OWNERS,
    "team.manage": OWNERS,
    "stripe.manage": OWNERS,
    # QuickBooks: owners connect it and choose tax codes; managers see the sync and resync.
    "quickbooks.manage": OWNERS,
    "quickbooks.view": MANAGERS,
    "quickbooks.resync": MANAGERS,
}


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may take ``action``. An action missing from the table is a bug, not a
    refusal: it raises, so a typo can't quietly lock everyone out (or let everyone in)."""
    try:
        return role in PERMISSIONS[action]
    except KeyError:
        raise KeyError(f"{action!r} is not in crewcommand.permissions.PERMISSIONS") from None


def member_can(member: Member | None, action: str) -> bool:
    return member is not None and allowed(member.role, action)


def require(request: HttpRequest, action: str) -> None:
    """Raise PermissionDenied (a friendly 403 page) unless the signed-in member may act."""
    if not member_can(getattr(request, "member", None), action):
        raise PermissionDenied(action)
