"""Customer pages of the portal. ``PortalMiddleware`` has already resolved the token into
``request.portal``; each view reads within that scope and calls one service.

GET never changes a document: it only records that the link was viewed (and moves a sent
document to *viewed*), and not for HEAD requests or known link scanners. Answers (accept,
decline, request changes) are POST-only with CSRF.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from crewcommand.errors import ServiceError
from crewcommand.lib import pagecache
from crewcommand.lib.colour import accent_on_white
from documents.models import Estimate, Invoice
from portal import http, selectors, services, slots, stepup, visits
from portal.forms import AcceptForm, ChangesForm, CodeForm, DeclineForm, FreshLinkForm, clean_code
from portal.http import PortalRequest
from portal.middleware import PortalContext
from portal.templatetags.portal_slots import HOLES

CHANGE_REQUESTS_PER_HOUR = 10
FRESH_LINKS_PER_HOUR = 3


def portal_view(view: Callable) -> Callable:
    """Pass the resolved PortalContext to the view and use the company's time zone."""

    @wraps(view)
    @sensitive_variables("token", "portal")
    def wrapper(request: HttpRequest, token: str, **kwargs) -> HttpResponse:
        portal = getattr(request, "portal", None)
        if portal is None or not constant_time_compare(portal.token, token):
            raise Http404
        timezone.activate(portal.company.timezone)
        return view(request, portal, **kwargs)

    return wrapper


def _record_visit(
    request: PortalRequest, portal: PortalContext, document: Estimate | Invoice | None = None
) -> None:
    if http.is_prefetch(request) or request.htmx:
        return
    agent = http.user_agent(request)
    visits.note_view(link=portal.link, device=http.device_class(agent), document=document)


def _render(request: PortalRequest, portal: PortalContext, template: str, context: dict, **kw):
    return render(request, template, {"portal": portal, "company": portal.company, **context}, **kw)


def _document_page(
    request: PortalRequest,
    portal: PortalContext,
    document: Estimate | Invoice,
    *,
    template: str,
    context: Callable[[], dict],
    rows: tuple = (),
    kept: tuple[str, ...] = (),
) -> HttpResponse:
    """A document's page through the page cache (``crewcommand.lib.pagecache``).

    The key is what the page is made of: the company, customer and document rows (every
    field), ``rows`` (the revisions shown), the link's scope, the full path (an estimate's
    picks), the language (in every key) and the company's local date (due, overdue, expiry).
    The link's token, the CSRF token and the CSP nonce are cut out and put back per answer.
    The portal's slots hold other apps' state (payments): a slot whose app puts that state in
    the key (``slots.fill(keyed=True)``, ``slots.key_with``) is part of the cached page; any
    other is rendered live at every answer, in its documented context (``portal.slots``) plus
    the ``kept`` names of ``context()``, stored with the page when it was rendered."""
    if not pagecache.usable(request):
        return _render(request, portal, template, context())
    link = portal.link
    live = {"portal": portal, "company": portal.company, document._meta.model_name: document}

    def fill_hole(name: str, stored: dict) -> str:
        names = slots.templates(name.removeprefix("slot:"))
        return "".join(render_to_string(t, {**live, **stored}, request) for t in names)

    page_context: dict = {}

    def render_page() -> HttpResponse:
        page_context.update(context())
        return _render(request, portal, template, {**page_context, HOLES: True})

    key = (
        link.pk,
        link.company_id,
        link.customer_id,
        link.estimate_id,
        link.invoice_id,
        request.get_full_path(),
        timezone.localdate(),
        pagecache.row_state(portal.company, portal.customer, document, *rows),
        # The state of the keyed slots (payments: portal.slots.key_with).
        slots.page_state(link),
    )
    return pagecache.cached_page(
        request,
        namespace="portal",
        key=key,
        render=render_page,
        secrets_={"token": portal.token},
        fill_hole=fill_hole,
        extra=lambda: {name: page_context[name] for name in kept},
    )


# --- Invalid links -----------------------------------------------------------------------------


@csrf_protect
def invalid_link(request: HttpRequest, *, dead_link_id: int | None) -> HttpResponse:
    """The answer for a token that opens nothing (``dead_link_id``: the revoked or expired
    link's id, if the token is one of ours).

    An unknown or malformed token (or a link deleted since) gets one generic page, the same
    for every such token, that names no business. A revoked or expired link was a real
    secret handed to this customer, so its page names the business and its public contact
    details, to ask for a new link, and nothing about the customer or the document. Only an
    expired link offers "Send me a fresh link", because only there one is really sent (to the
    contact on file): its form answers the same whether or not the contact matched, and does
    the same work either way (the request is queued and the worker decides, see
    services.fresh_link_request). A revoked link never gets a fresh link: its business
    turned it off on purpose."""
    dead = selectors.dead_link(link_id=dead_link_id)
    if dead is None:
        return render(request, "portal/invalid.html", {}, status=404)
    form = FreshLinkForm(request.POST if request.method == "POST" else None)
    sent = False
    if dead.can_refresh and request.method == "POST" and form.is_valid():
        if http.rate_hit("fresh", str(dead_link_id), window=3600) <= FRESH_LINKS_PER_HOUR:
            services.fresh_link_queue(link_id=dead_link_id, contact=form.cleaned_data["contact"])
        sent, form = True, FreshLinkForm()
    context = {
        "dead": dead,
        "company": dead.company,
        "portal": {"accent": accent_on_white(dead.company.brand_color)},
        "form": form if dead.can_refresh else None,
        "sent": sent,
    }
    return render(request, "portal/dead_link.html", context, status=200 if sent else 404)


def preview_refused(request: HttpRequest) -> HttpResponse:
    """Anything asked of the contractor's preview (``portal.preview``): its page names no
    token, so nothing in it can open, sign, pay or change anything."""
    return render(request, "portal/invalid.html", {"preview": True}, status=403)


def too_many_attempts(request: HttpRequest) -> HttpResponse:
    response = render(request, "portal/invalid.html", {"limited": True}, status=429)
    response["Retry-After"] = str(settings.PORTAL_INVALID_LINK_WINDOW)
    return response


# --- Pages -------------------------------------------------------------------------------------


@portal_view
@require_safe
def home(request: PortalRequest, portal: PortalContext) -> HttpResponse:
    if portal.scope == "estimate":
        return redirect(portal.url("estimate", portal.link.estimate.public_id))
    if portal.scope == "invoice":
        return redirect(portal.url("invoice", portal.link.invoice.public_id))
    _record_visit(request, portal)
    return _render(request, portal, "portal/home.html", selectors.home_context(portal=portal))


@portal_view
@require_safe
def estimate(request: PortalRequest, portal: PortalContext, estimate_id: str) -> HttpResponse:
    doc = selectors.estimate_get(portal=portal, public_id=estimate_id)
    _record_visit(request, portal, doc)

    def context() -> dict:
        # The customer's picks travel in the URL (the options' script keeps it up to date, and
        # "Update the total" without JavaScript redirects to it), so a reload keeps them.
        picks = selectors.picks_from_query(request.GET)
        context = selectors.estimate_context(portal=portal, estimate=doc, data=picks)
        context["form"] = AcceptForm(initial={"revision": context["revision"].number})
        context["step_up"] = step_up_context(request, portal, context["totals"].total)
        return context

    # Sent revisions never change; the ones shown are named by the estimate's row, and the
    # signature (select_related) is in the key through its own row; the link's contact is
    # there for the one-time code's masked address (the company's row holds its settings).
    return _document_page(
        request,
        portal,
        doc,
        template="portal/estimate.html",
        context=context,
        rows=(
            doc.current_revision,
            doc.accepted_revision,
            selectors.signature_of(doc),
            portal.link.contact,
        ),
        kept=("deposit", "totals"),
    )


@portal_view
@require_POST
def estimate_choose(
    request: PortalRequest, portal: PortalContext, estimate_id: str
) -> HttpResponse:
    """ "Update the total" without JavaScript: the options posted with the signing form come
    back as the estimate page's URL (post/redirect/get), which shows them with their totals
    and keeps them on reload. Writes nothing."""
    doc = selectors.estimate_get(portal=portal, public_id=estimate_id)
    context = selectors.estimate_context(portal=portal, estimate=doc, data=request.POST)
    query = selectors.picks_query(context=context)
    return redirect(f"{portal.url('estimate', doc.public_id)}?{query}#totals")


@portal_view
@require_safe
def estimate_totals(
    request: PortalRequest, portal: PortalContext, estimate_id: str
) -> HttpResponse:
    """Totals for the picks in the query string (htmx, on every change). Read-only."""
    doc = selectors.estimate_get(portal=portal, public_id=estimate_id)
    context = selectors.estimate_context(portal=portal, estimate=doc, data=request.GET)
    return _render(request, portal, "portal/estimate.html#totals", context)


@portal_view
@require_POST
def estimate_accept(
    request: PortalRequest, portal: PortalContext, estimate_id: str
) -> HttpResponse:
    doc = selectors.estimate_get(portal=portal, public_id=estimate_id)
    context = selectors.estimate_context(portal=portal, estimate=doc, data=request.POST)
    form = AcceptForm(request.POST)
    page = portal.url("estimate", doc.public_id) + "?" + selectors.picks_query(context=context)
    step_up = step_up_context(request, portal, context["totals"].total, page=page)
    status = 200
    if form.is_valid():
        try:
            challenge = None
            if step_up["needed"]:
                challenge = check_code(request, portal, form, purpose="sign")
            if challenge is not None or not step_up["needed"]:
                services.estimate_accept(
                    estimate=doc,
                    link=portal.link,
                    revision_number=form.cleaned_data["revision"],
                    selection=context["selection"],
                    signature=form.signature_in(),
                    ip=http.client_ip(request),
                    user_agent=http.user_agent(request),
                    challenge=challenge,
                )
                return redirect(portal.url("estimate", doc.public_id) + "#answer")
        except stepup.CodeRefused as error:
            form.add_error("code", str(error))
        except ServiceError as error:
            form.add_error(None, str(error))
            status = 409
    return _render(
        request,
        portal,
        "portal/estimate.html",
        {**context, "form": form, "step_up": step_up},
        status=status,
    )


# --- One-time codes (step-up) ------------------------------------------------------------------


def step_up_context(request: HttpRequest, portal: PortalContext, amount, *, page: str = "") -> dict:
    """What the sign or pay form shows about the one-time code: whether one is needed for this
    amount, how it would be sent (masked), and whether one was just sent. ``page``: where
    "Send me a code" comes back to without JavaScript (default: this page). Reads only."""
    needed = stepup.needed(portal.company, amount)
    channel = stepup.channel_for(portal.link) if needed else ""
    contact = portal.link.contact
    to = ""
    if channel and contact is not None:
        to = stepup.masked(channel, contact.phone if channel == "sms" else contact.email)
    return {
        "needed": needed,
        "channel": channel,
        "to": to,
        "sent": request.GET.get("code") == "sent",
        "url": portal.url("code"),
        "next": page or request.get_full_path().split("#", 1)[0],
    }


def check_code(request: HttpRequest, portal: PortalContext, form, *, purpose: str):
    """The challenge the typed code opens (still unspent), or None with the form's error set."""
    from django.core.exceptions import ValidationError

    try:
        code = clean_code(form.data.get("code", ""))
    except ValidationError as error:
        form.add_error("code", error)
        return None
    return stepup.code_check(
        link=portal.link, purpose=purpose, code=code, ip_bucket=http.client_bucket(request)
    )


def _back_to(portal: PortalContext, back: str, **params: str) -> str:
    """``back`` if it is a page of this same link (else the link's home), with ``params``."""
    home = portal.url("home")
    if not back.startswith(home) or "//" in back or "\\" in back:
        back = home
    if params:
        back += ("&" if "?" in back else "?") + "&".join(f"{k}={v}" for k, v in params.items())
    return back


@portal_view
@require_POST
def code_request(request: PortalRequest, portal: PortalContext) -> HttpResponse:
    """ "Send me a code": a new one-time code to the link's own contact, by their channel. Plain
    form: back to the page it came from, which says where the code went; htmx: that note."""
    form = CodeForm(request.POST)
    error, sent, status = "", None, 400
    if not form.is_valid():
        error = _("Something went wrong. Reload the page and try again.")
    else:
        try:
            sent = stepup.code_request(
                link=portal.link,
                purpose=form.cleaned_data["purpose"],
                ip_bucket=http.client_bucket(request),
            )
        except stepup.CodeLimited as exc:
            error, status = str(exc), 429
        except ServiceError as exc:
            error = str(exc)
    if request.htmx:
        context = {"sent": sent, "error": error}
        return _render(request, portal, "portal/_code_status.html", context)
    back = form.cleaned_data.get("next", "") if form.is_valid() else ""
    if error:
        context = {"sent": None, "error": error, "back": _back_to(portal, back)}
        return _render(request, portal, "portal/code_error.html", context, status=status)
    return redirect(_back_to(portal, back, code="sent") + "#code-status")


def _answer_view(request: PortalRequest, portal: PortalContext, estimate_id: str, *, kind: str):
    doc = selectors.estimate_get(portal=portal, public_id=estimate_id)
    if kind == "decline":
        form = DeclineForm(request.POST or None, company_name=portal.company.name)
    else:
        form = ChangesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if kind == "decline":
                services.estimate_decline(
                    estimate=doc, link=portal.link, reason=form.cleaned_data["reason"]
                )
            elif http.rate_hit("changes", str(portal.link.pk), window=3600) > (
                CHANGE_REQUESTS_PER_HOUR
            ):
                raise ServiceError(
                    _("You've sent several messages already. Please call %(company)s.")
                    % {"company": portal.company.name}
                )
            else:
                services.estimate_request_changes(
                    estimate=doc, link=portal.link, message=form.cleaned_data["message"]
                )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            return redirect(portal.url("estimate", doc.public_id) + f"?done={kind}#answer")
    context = {"estimate": doc, "form": form, "kind": kind}
    return _render(request, portal, "portal/answer.html", context)


@portal_view
@require_http_methods(["GET", "HEAD", "POST"])
def estimate_decline(request: PortalRequest, portal: PortalContext, estimate_id: str):
    return _answer_view(request, portal, estimate_id, kind="decline")


@portal_view
@require_http_methods(["GET", "HEAD", "POST"])
def estimate_changes(request: PortalRequest, portal: PortalContext, estimate_id: str):
    return _answer_view(request, portal, estimate_id, kind="changes")


@portal_view
@require_safe
def invoice(request: PortalRequest, portal: PortalContext, invoice_id: str) -> HttpResponse:
    doc = selectors.invoice_get(portal=portal, public_id=invoice_id)
    _record_visit(request, portal, doc)
    # An invoice's lines change only through documents.services, which stamps its updated_at.
    return _document_page(
        request,
        portal,
        doc,
        template="portal/invoice.html",
        context=lambda: selectors.invoice_context(invoice=doc),
    )


# --- PDFs --------------------------------------------------------------------------------------


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@portal_view
@require_safe
def estimate_pdf(request: PortalRequest, portal: PortalContext, estimate_id: str) -> HttpResponse:
    from documents import pdf

    doc = selectors.estimate_get(portal=portal, public_id=estimate_id)
    _record_visit(request, portal)
    signature = selectors.signature_of(doc)
    if signature is not None:
        content = selectors.signed_estimate_pdf(signature=signature)
    else:
        content = pdf.render_estimate_pdf(estimate=doc, revision=selectors.shown_revision(doc))
    return _pdf_response(content, pdf.pdf_filename(doc))


@portal_view
@require_safe
def invoice_pdf(request: PortalRequest, portal: PortalContext, invoice_id: str) -> HttpResponse:
    from documents import pdf

    doc = selectors.invoice_get(portal=portal, public_id=invoice_id)
    _record_visit(request, portal)
    return _pdf_response(pdf.render_invoice_pdf(invoice=doc), pdf.pdf_filename(doc))


@portal_view
@require_POST
def choose_language(request: PortalRequest, portal: PortalContext) -> HttpResponse:
    """The switcher on every portal page: saves the customer's language, then back to the page
    it was posted from (only a page of this same link)."""
    # Only a forged post names another language (the switcher's buttons name ours): the page
    # then comes back unchanged, in the language it was.
    with contextlib.suppress(ServiceError):
        services.choose_language(link=portal.link, language=request.POST.get("language", ""))
    back = request.POST.get("next", "")
    home = portal.url("home")
    if not back.startswith(home) or "//" in back or "\\" in back:
        back = home
    return redirect(back)
