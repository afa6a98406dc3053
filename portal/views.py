"""Contractor side of the portal: the links panel shown on an estimate, invoice or customer
(links with their views, create, revoke, regenerate), the live status badge, and signature
verification and the signed PDF.

A link's raw URL appears in exactly one response: the one answering its creation. Those
responses are ``Cache-Control: no-store``.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from crewcommand.access import ContractorRequest, member_required
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.models import Customer
from crewcommand.permissions import member_can
from documents.models import OPEN_ESTIMATE_STATUSES, OPEN_INVOICE_STATUSES, Estimate, Invoice
from portal import notifications, selectors, services
from portal.forms import LinkCreateForm, LinkExtendForm, SendForm
from portal.preview import render_preview
from portal.services import IssuedLink
from portal.signatures import svg_data_url

STATUS_CHANGED_EVENT = "portal-status-changed"


def _kind(subject: Estimate | Invoice | Customer) -> str:
    if isinstance(subject, Estimate):
        return "estimate"
    return "invoice" if isinstance(subject, Invoice) else "customer"


def badge_context(subject: Estimate | Invoice | Customer) -> dict:
    if isinstance(subject, Customer):
        return {"badge": None}
    if isinstance(subject, Estimate):
        polling = subject.status in OPEN_ESTIMATE_STATUSES
    else:
        polling = subject.status in OPEN_INVOICE_STATUSES
    return {
        "badge": {
            "status": subject.display_status,
            "label": subject.display_status_label,
            "polling": polling,
        }
    }


def _panel(
    request: ContractorRequest,
    subject: Estimate | Invoice | Customer,
    *,
    issued: IssuedLink | None = None,
    form: LinkCreateForm | None = None,
    error: str = "",
    verification: services.Verification | None = None,
) -> HttpResponse:
    signature = selectors.signature_of(subject) if isinstance(subject, Estimate) else None
    context = {
        "subject": subject,
        "kind": _kind(subject),
        "links": selectors.links_for(subject=subject),
        "now": timezone.now(),
        "issued": issued,
        "form": form or LinkCreateForm(),
        "error": error,
        "can_manage": member_can(request.member, "link.manage"),
        "signature": signature,
        "signature_image": svg_data_url(signature.image_svg) if signature else "",
        "verification": verification,
        "customer_messages": selectors.customer_messages(subject=subject)
        if isinstance(subject, Estimate)
        else [],
        **badge_context(subject),
    }
    template = "portal/_links_panel.html" if request.htmx else "portal/links_page.html"
    response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


@member_required
@require_GET
def links_panel(request: ContractorRequest, kind: str, doc_id: str) -> HttpResponse:
    subject = selectors.panel_subject(company=request.company, kind=kind, public_id=doc_id)
    return _panel(request, subject)


@member_required(action="link.manage")
@require_POST
def link_create(request: ContractorRequest, kind: str, doc_id: str) -> HttpResponse:
    subject = selectors.panel_subject(company=request.company, kind=kind, public_id=doc_id)
    form = LinkCreateForm(request.POST)
    if not form.is_valid():
        return _panel(request, subject, form=form)
    customer = subject if isinstance(subject, Customer) else subject.customer
    document = None if isinstance(subject, Customer) else subject
    try:
        issued = services.link_create(
            customer=customer,
            document=document,
            actor=Actor.member(request.user),
            sent_to=form.cleaned_data["sent_to"],
        )
    except ServiceError as exc:
        return _panel(request, subject, error=str(exc))
    return _panel(request, subject, issued=issued)


def _link_action(request: ContractorRequest, link_id: str, *, regenerate: bool) -> HttpResponse:
    link = selectors.link_get(company=request.company, public_id=link_id)
    subject = link.estimate or link.invoice or link.customer
    actor = Actor.member(request.user)
    try:
        if regenerate:
            return _panel(request, subject, issued=services.link_regenerate(link=link, actor=actor))
        services.link_revoke(link=link, actor=actor)
    except ServiceError as exc:
        return _panel(request, subject, error=str(exc))
    return _panel(request, subject)


@member_required(action="link.manage")
@require_POST
def link_revoke(request: ContractorRequest, link_id: str) -> HttpResponse:
    return _link_action(request, link_id, regenerate=False)


@member_required(action="link.manage")
@require_POST
def link_extend(request: ContractorRequest, link_id: str) -> HttpResponse:
    """Keep a link working longer ("+90 days", or until a date): past its closed document's
    expiry and its own lifetime. Bad input changes nothing and says why in the panel."""
    link = selectors.link_get(company=request.company, public_id=link_id)
    subject = link.estimate or link.invoice or link.customer
    form = LinkExtendForm(request.POST)
    if not form.is_valid():
        return _panel(request, subject, error=form.first_error())
    until = form.until_moment(planned=link.planned_expiry, now=timezone.now())
    try:
        services.link_extend(link=link, until=until, actor=Actor.member(request.user))
    except ServiceError as exc:
        return _panel(request, subject, error=str(exc))
    return _panel(request, subject)


@member_required
@require_GET
def preview(request: ContractorRequest, kind: str, doc_id: str) -> HttpResponse:
    """The estimate or invoice as its customer sees it in the portal (``portal.preview``):
    no link, no token, no view recorded, nothing written; any member who can open the
    document can preview it."""
    document = selectors.panel_subject(company=request.company, kind=kind, public_id=doc_id)
    assert isinstance(document, Estimate | Invoice)  # the URL names only these two kinds
    return render_preview(request, document)


@member_required(action="link.manage")
@require_POST
def link_regenerate(request: ContractorRequest, link_id: str) -> HttpResponse:
    return _link_action(request, link_id, regenerate=True)


def send_prepare(document: Estimate | Invoice, data) -> tuple[SendForm, dict]:
    """The send preview (``documents.actions.Confirm``): the email exactly as the customer will
    get it, rendered by the code that sends it, and the form that confirms it with a note.
    Reads only: no link is made until the contractor presses Send."""
    contacts = services.contacts_on_file(document.customer)
    form = SendForm(data, initial={"last_sent": services.sent_stamp(document)}, contacts=contacts)
    context = {
        "contacts": contacts,
        "preview": notifications.document_email_preview(document=document),
        "kind": _kind(document),
        "note_max": SendForm.base_fields["note"].max_length,
    }
    return form, context


@member_required
@require_GET
def status_badge(request: ContractorRequest, kind: str, doc_id: str) -> HttpResponse:
    """The status badge, polled every 10 s while the document awaits the customer. When the
    status differs from the one the page showed (``?was=``), the panel is told to refresh."""
    subject = selectors.panel_subject(company=request.company, kind=kind, public_id=doc_id)
    context = {"subject": subject, "kind": kind, **badge_context(subject)}
    response = render(request, "portal/_status_badge.html", context)
    was = request.GET.get("was", "")[:20]
    if context["badge"] and was and was != context["badge"]["status"]:
        response["HX-Trigger"] = STATUS_CHANGED_EVENT
    return response


@member_required
@require_GET
def signature_verify(request: ContractorRequest, signature_id: str) -> HttpResponse:
    """Recompute the signed content's hash and compare (read-only)."""
    signature = selectors.signature_get(company=request.company, public_id=signature_id)
    verification = services.signature_verify(signature=signature)
    if request.htmx:
        return render(request, "portal/_verification.html", {"verification": verification})
    return _panel(request, signature.estimate, verification=verification)


@member_required
@require_GET
def signature_pdf(request: ContractorRequest, signature_id: str) -> HttpResponse:
    from documents import pdf

    signature = selectors.signature_get(company=request.company, public_id=signature_id)
    estimate = signature.estimate
    content = selectors.signed_estimate_pdf(signature=signature)
    response = HttpResponse(content, content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{pdf.pdf_filename(estimate)}"'
    return response
