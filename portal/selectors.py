"""Reads for portal pages and the dashboard's link panel, with a fixed number of queries.

Customer-side reads take the ``PortalContext`` and never return a row outside the link's
scope: another document of the same customer, another customer or another company is a 404.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.db.models import Q, QuerySet
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crewcommand.models import Activity, Company, Contact, Customer
from documents import pdf
from documents.models import (
    CLOSED_ESTIMATE_STATUSES,
    Estimate,
    EstimateRevision,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    LineItem,
    LineKind,
)
from documents.totals import (
    Selection,
    deposit_amount,
    estimate_figures,
    invoice_totals,
    is_selected,
    revision_totals,
)
from portal import canonical
from portal.forms import selection_from_data
from portal.models import LinkStatus, PortalLink, Signature
from portal.services import ANSWERABLE
from portal.signatures import svg_data_url

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from portal.middleware import PortalContext
    from portal.preview import PreviewContext


# --- Customer side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLink:
    """What the page for a revoked or expired link may say: the business (name and public
    contact details, to ask for a new link) and whether a fresh link can really be sent to the
    contact on file (only an expired link whose customer has an email address). Nothing about
    the customer or the document."""

    state: str  # LinkStatus.REVOKED or LinkStatus.EXPIRED
    company: Company
    can_refresh: bool


def dead_link(*, link_id: int | None) -> DeadLink | None:
    """The dead link behind a token the middleware found (revoked or expired), in one query;
    None for an unknown token, or a link deleted or made usable since the lookup."""
    if link_id is None:
        return None
    link = (
        PortalLink.objects.select_related("company", "customer", "estimate", "invoice")
        .filter(pk=link_id)
        .first()
    )
    if link is None:
        return None
    state = link.status
    if state == LinkStatus.ACTIVE:
        return None
    return DeadLink(
        state=state,
        company=link.company,
        can_refresh=state == LinkStatus.EXPIRED
        and Contact.objects.filter(customer_id=link.customer_id, removed_at=None)
        .exclude(email="", phone="")
        .exists(),
    )


def _closed_cutoff(portal: PortalContext) -> dt.datetime | None:
    """For a link to all of a customer's documents: documents closed before this moment have
    expired from it (the company's ``portal_closed_link_days``, as for a link to one document:
    ``PortalLink.closed_expiry``). None: nothing has expired (the company keeps them, or the
    contractor extended this link and the extension still runs)."""
    days = portal.company.portal_closed_link_days
    now = timezone.now()
    keep_until = portal.link.keep_until
    if not days or (keep_until is not None and keep_until > now):
        return None
    return now - dt.timedelta(days=days)


def portal_estimates(*, portal: PortalContext) -> QuerySet[Estimate]:
    qs = Estimate.objects.filter(
        company=portal.company, customer=portal.customer, sent_at__isnull=False
    )
    if portal.scope == "estimate":
        return qs.filter(pk=cast(int, portal.link.estimate_id))
    if portal.scope == "invoice":
        return qs.none()
    if (cutoff := _closed_cutoff(portal)) is not None:
        qs = qs.exclude(status__in=CLOSED_ESTIMATE_STATUSES, decided_at__lte=cutoff)
    return qs


def portal_invoices(*, portal: PortalContext) -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(company=portal.company, customer=portal.customer).exclude(
        status=InvoiceStatus.DRAFT
    )
    if portal.scope == "invoice":
        return qs.filter(pk=cast(int, portal.link.invoice_id))
    if portal.scope == "estimate":
        return qs.none()
    if (cutoff := _closed_cutoff(portal)) is not None:
        qs = qs.exclude(
            Q(status=InvoiceStatus.PAID, paid_at__lte=cutoff)
            | Q(status=InvoiceStatus.VOID, voided_at__lte=cutoff)
        )
    return qs


def home_context(*, portal: PortalContext) -> dict[str, Any]:
    estimates = list(
        portal_estimates(portal=portal)
        .select_related("current_revision")
        .prefetch_related("revisions__lines")
        .order_by("-number")
    )
    for estimate in estimates:
        estimate.shown_total = _shown_total(estimate)
    invoices = list(portal_invoices(portal=portal).order_by("-number"))
    return {"estimates": estimates, "invoices": invoices}


def _shown_total(estimate: Estimate) -> Decimal | None:
    """The total of what the customer sees (``shown_revision``), with their own choices once
    they accepted (``estimate_figures``, the rule the dashboard uses too); read from the
    prefetched revisions, so the list costs no query per row."""
    revisions = sorted(estimate.revisions.all(), key=lambda r: r.number, reverse=True)
    revision: EstimateRevision | None
    if estimate.status == EstimateStatus.ACCEPTED and estimate.accepted_revision_id:
        revision = next(r for r in revisions if r.pk == estimate.accepted_revision_id)
    else:
        revision = next((r for r in revisions if r.sent_at is not None), None)
    if revision is None:
        return None
    return estimate_figures(estimate, revision, lines=list(revision.lines.all())).total


def estimate_get(*, portal: PortalContext, public_id: str) -> Estimate:
    """The estimate ``public_id`` within the link's scope. A link made for this very estimate
    brought it along with its revisions and signature (the middleware's one query)."""
    linked = portal.link.estimate if portal.scope == "estimate" else None
    if (
        linked is not None
        and linked.public_id == public_id
        and linked.sent_at is not None
        and linked.company_id == portal.company.pk
        and linked.customer_id == portal.customer.pk
    ):
        linked.company, linked.customer = portal.company, portal.customer
        return linked
    return get_object_or_404(
        portal_estimates(portal=portal).select_related(
            "company", "customer", "current_revision", "accepted_revision", "signature"
        ),
        public_id=public_id,
    )


def invoice_get(*, portal: PortalContext, public_id: str) -> Invoice:
    """The invoice ``public_id`` within the link's scope. A link made for this very invoice
    brought it along (the middleware's one query): then no query at all."""
    linked = portal.link.invoice if portal.scope == "invoice" else None
    if (
        linked is not None
        and linked.public_id == public_id
        and linked.status != InvoiceStatus.DRAFT
        and linked.company_id == portal.company.pk
        and linked.customer_id == portal.customer.pk
    ):
        linked.company, linked.customer = portal.company, portal.customer
        return linked
    return get_object_or_404(
        portal_invoices(portal=portal).select_related("company", "customer"), public_id=public_id
    )


def shown_revision(estimate: Estimate) -> EstimateRevision:
    """What the customer sees: the accepted revision once signed, else the latest sent one
    (while the contractor edits a new draft, the customer still sees the last sent version)."""
    if estimate.status == EstimateStatus.ACCEPTED and estimate.accepted_revision is not None:
        return estimate.accepted_revision
    current = estimate.current_revision
    if current is not None and current.sent_at is not None:
        return current
    revision = estimate.revisions.filter(sent_at__isnull=False).order_by("-number").first()
    if revision is None:
        raise Http404
    return revision


def signature_of(estimate: Estimate) -> Signature | None:
    try:
        return estimate.signature
    except Signature.DoesNotExist:
        return None


@dataclass(frozen=True)
class OptionGroup:
    name: str
    field: str
    lines: list[LineItem]


def _option_groups(lines: list[LineItem]) -> list[OptionGroup]:
    groups: dict[str, list[LineItem]] = {}
    for line in lines:
        if line.kind == LineKind.CHOICE:
            groups.setdefault(line.group, []).append(line)
    return [
        OptionGroup(name=name, field=f"choice-{index}", lines=members)
        for index, (name, members) in enumerate(groups.items(), start=1)
    ]


def estimate_context(
    *,
    portal: PortalContext | PreviewContext,
    estimate: Estimate,
    data: QueryDict | None = None,
    draft: EstimateRevision | None = None,
) -> dict[str, Any]:
    """Everything the estimate page shows. ``data``: the customer's picks from a request
    (None: the accepted picks once signed, else the defaults). ``draft``: the contractor's
    preview of a draft revision, shown as the customer will see it once sent."""
    revision = draft or shown_revision(estimate)
    lines = list(revision.lines.all())
    signature = signature_of(estimate)
    if estimate.status == EstimateStatus.ACCEPTED:
        # The customer's accepted choices, by the rule every page and document uses.
        selection = estimate_figures(estimate, revision, lines=lines).selection
    else:
        selection = selection_from_data(data, lines)
    totals = revision_totals(revision, selection, lines=lines)
    expired = estimate.display_status == EstimateStatus.EXPIRED
    updating = estimate.status == EstimateStatus.DRAFT and draft is None
    answerable = estimate.status in ANSWERABLE or draft is not None
    for line in lines:
        line.is_picked = is_selected(line, selection)
    return {
        "estimate": estimate,
        "revision": revision,
        "lines": lines,
        "included": [line for line in lines if line.kind == LineKind.STANDARD],
        "optional": [line for line in lines if line.kind == LineKind.OPTIONAL],
        "groups": _option_groups(lines),
        "selection": selection,
        "totals": totals,
        "deposit": deposit_amount(revision, totals.total),
        "signature": signature,
        "signature_image": svg_data_url(signature.image_svg) if signature else "",
        "expired": expired,
        "updating": updating,
        "can_answer": answerable and not expired and not updating,
    }


PICKS_PARAM = "picks"


def picks_from_query(data: QueryDict) -> QueryDict | None:
    """The customer's picks carried in the estimate page's URL (``picks_query``), so a reload
    keeps them; None (the defaults, or the accepted picks) when the URL carries none."""
    return data if PICKS_PARAM in data else None


def picks_query(*, context: dict[str, Any]) -> str:
    """The picks of an ``estimate_context`` as the page's query string: the same names the
    options form uses (``choice-N``, ``optional``), marked with ``picks=1`` so that "no add-on
    at all" is told apart from "nothing chosen yet"."""
    query = QueryDict(mutable=True)
    query[PICKS_PARAM] = "1"
    selection: Selection = context["selection"]
    for group in context["groups"]:
        if picked := selection.choices.get(group.name):
            query[group.field] = picked
    query.setlist("optional", [line.public_id for line in context["optional"] if line.is_picked])
    return query.urlencode()


def invoice_context(*, invoice: Invoice) -> dict[str, Any]:
    lines = list(invoice.lines.all())
    return {"invoice": invoice, "lines": lines, "totals": invoice_totals(invoice, lines=lines)}


def signed_language(signature: Signature) -> str:
    """The language of the pages the customer signed on (in the signed snapshot since
    format v3; English before)."""
    try:
        return canonical.snapshot_language(json.loads(signature.canonical_json))
    except (ValueError, TypeError, AttributeError):
        return canonical.LEGACY_LANGUAGE


def _verify_hint(signature: Signature) -> str:
    """How to re-check the signature, in the language it was signed in."""
    with translation.override(signed_language(signature)):
        return _(
            "Signature %(id)s: SHA-256 of the canonical JSON (format "
            "crewcommand.estimate.v%(version)s) of the signed content; the whole record is also "
            "sealed with a keyed HMAC-SHA256 (key %(key)s). Re-verify with: "
            "manage.py verify_signature %(id)s"
        ) % {
            "id": signature.public_id,
            "version": signature.canonical_version,
            "key": signature.seal_key_id or "-",
        }


def certificate(*, signature: Signature) -> dict[str, Any]:
    """The audit trail as the PDF's certificate page takes it (documents.pdf)."""
    return {
        "signer_name": signature.signer_name,
        "signed_at": signature.signed_at,
        "ip": signature.ip_address or "",
        "user_agent": signature.user_agent,
        "link_reference": signature.link_reference,
        "consent_text": signature.consent_text,
        "selection_summary": list(signature.selection_summary),
        "sha256": signature.content_sha256,
        "revision_number": signature.revision.number,
        "signature_svg": signature.image_svg,
        "language": signed_language(signature),
        "verify_hint": _verify_hint(signature),
        "contact_name": signature.contact_name,
        "step_up_channel": signature.step_up_channel,
        "step_up_verified_at": signature.step_up_verified_at,
    }


def signed_estimate_pdf(*, signature: Signature) -> bytes:
    """The signed estimate with its certificate page. Signatures with a snapshot (canonical
    version 2 on) render from it, so later edits of the customer, company, job or lines do not
    change the signed PDF. Older signatures hold no snapshot of the company, customer or job:
    they render from the stored revision, the signed selection and the live customer."""
    estimate = signature.estimate
    cert = certificate(signature=signature)
    if signature.canonical_version >= 2:
        try:
            snapshot = json.loads(signature.canonical_json)
            return pdf.render_signed_estimate_pdf(
                estimate=estimate, snapshot=snapshot, certificate=cert
            )
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError):
            # Only a snapshot altered behind the application's back gets here; verification
            # reports it. The customer still gets a PDF rather than an error page.
            logger.warning(
                "signature %s: unreadable snapshot, rendered from the revision", signature.pk
            )
    return pdf.render_estimate_pdf(
        estimate=estimate,
        revision=signature.revision,
        selection=Selection.from_json(signature.selection),
        certificate=cert,
    )


# --- Dashboard side ----------------------------------------------------------------------------


def panel_subject(*, company: Company, kind: str, public_id: str) -> Estimate | Invoice | Customer:
    """The document (or customer) a links panel is about; 404 outside the company."""
    if kind == "estimate":
        estimates = Estimate.objects.filter(company=company)
        return get_object_or_404(
            estimates.select_related("customer", "current_revision", "company"),
            public_id=public_id,
        )
    if kind == "invoice":
        invoices = Invoice.objects.filter(company=company).select_related("customer", "company")
        return get_object_or_404(invoices, public_id=public_id)
    if kind == "customer":
        return get_object_or_404(Customer.objects.filter(company=company), public_id=public_id)
    raise Http404


def links_for(*, subject: Estimate | Invoice | Customer) -> list[PortalLink]:
    # The company and the document are read for each link's planned expiry.
    qs = PortalLink.objects.filter(company_id=subject.company_id).select_related(
        "replaced_by", "company", "contact", "estimate", "invoice"
    )
    if isinstance(subject, Estimate):
        qs = qs.filter(estimate=subject)
    elif isinstance(subject, Invoice):
        qs = qs.filter(invoice=subject)
    else:
        qs = qs.filter(customer=subject, estimate=None, invoice=None)
    return list(qs.order_by("-created_at", "-id")[:100])


def link_get(*, company: Company, public_id: str) -> PortalLink:
    return get_object_or_404(
        PortalLink.objects.select_related("customer", "estimate", "invoice", "company"),
        company=company,
        public_id=public_id,
    )


def signature_get(*, company: Company, public_id: str) -> Signature:
    return get_object_or_404(
        Signature.objects.select_related(
            "estimate", "estimate__customer", "estimate__company", "revision", "company"
        ),
        company=company,
        public_id=public_id,
    )


def customer_messages(*, subject: Estimate) -> list[Activity]:
    """The customer's latest change requests and decline reason, for the contractor."""
    from django.contrib.contenttypes.models import ContentType

    return list(
        Activity.objects.filter(
            company_id=subject.company_id,
            target_type=ContentType.objects.get_for_model(Estimate),
            target_id=subject.pk,
            verb__in=["estimate.changes_requested", "estimate.declined"],
        )[:5]
    )
