"""Preview as the customer (issue 18, point 4): from an estimate or invoice in the dashboard,
the contractor sees the portal page exactly as its customer does: the same templates, the same
context (``portal.selectors``), in the customer's language, under a banner.

A preview is not a visit: it makes no link, carries no token, records no view and writes
nothing. Where the page would name a token, ``PreviewContext`` gives the word
``middleware.PREVIEW_TOKEN`` instead, which the portal refuses (403) whatever is asked of it;
the page's body is ``inert`` too, so nothing in it can be pressed, signed or paid."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from crewcommand.access import ContractorRequest
from crewcommand.lib.colour import accent_on_white
from crewcommand.models import Company, Customer
from documents.models import Estimate, EstimateStatus, Invoice, InvoiceStatus
from portal import selectors
from portal.forms import AcceptForm
from portal.middleware import PORTAL_HEADERS, PREVIEW_TOKEN


@dataclass(frozen=True)
class PreviewContext:
    """What the portal's templates read from ``portal``, for a preview: the company, the
    customer and the scope of a link to this one document, but no link and no token."""

    company: Company
    customer: Customer
    scope: str  # "estimate" or "invoice"
    token: str = PREVIEW_TOKEN
    # No language switcher in a preview: it shows the customer's language.
    url_language: str = ""
    link: None = None

    @cached_property
    def accent(self) -> str:
        return accent_on_white(self.company.brand_color)

    def url(self, name: str, *args: str) -> str:
        return reverse(f"portal:{name}", args=[self.token, *args])


def is_draft(document: Estimate | Invoice) -> bool:
    if isinstance(document, Estimate):
        return document.status == EstimateStatus.DRAFT
    return document.status == InvoiceStatus.DRAFT


def banner(document: Estimate | Invoice) -> dict[str, str | bool]:
    """The banner's words, in the contractor's language (the page below is in the
    customer's)."""
    name = document.customer.name
    draft = is_draft(document)
    if draft:
        title = _("Preview of a draft — %(customer)s can't see it yet") % {"customer": name}
        note = _("This is what %(customer)s will see once you send it.") % {"customer": name}
    else:
        title = _("Preview — this is what %(customer)s sees") % {"customer": name}
        note = _("Nothing here works: the customer signs and pays from their own link.")
    return {
        "title": title,
        "note": note,
        "draft": draft,
        "back_url": document.get_absolute_url(),
        "back_label": _("Back to %(number)s") % {"number": document.display_number},
        "language": translation.get_language(),
    }


def render_preview(request: ContractorRequest, document: Estimate | Invoice) -> HttpResponse:
    """The portal page of ``document`` as its customer sees it. Reads only."""
    company, customer = document.company, document.customer
    words = banner(document)
    scope = "estimate" if isinstance(document, Estimate) else "invoice"
    portal = PreviewContext(company=company, customer=customer, scope=scope)
    with translation.override(customer.language or company.default_language):
        if isinstance(document, Estimate):
            draft = document.current_revision if is_draft(document) else None
            context = selectors.estimate_context(portal=portal, estimate=document, draft=draft)
            context["form"] = AcceptForm(initial={"revision": context["revision"].number})
            template = "portal/estimate.html"
        else:
            context = selectors.invoice_context(invoice=document)
            template = "portal/invoice.html"
        context.update(portal=portal, company=company, preview=words)
        response = render(request, template, context)
    for name, value in PORTAL_HEADERS.items():
        response[name] = value
    return response
