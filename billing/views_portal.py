"""Customer payment pages.

Under ``/p/<token>/pay/``: the one-tap confirmation page behind ``{payment_link}`` and the POST
that sends the customer to Stripe Checkout (``PortalMiddleware`` has resolved the token;
``portal_view`` checks it).

Under ``/pay/<attempt>/``: the pages Stripe sends the customer back to. Their URLs carry no
portal token (Stripe stores and echoes return URLs, so a token there would sit in Stripe, in
every stored event and in browser history): only the attempt's random public id, and on the
success page the Checkout Session id Stripe substitutes, which must match the attempt's. From
those alone the page shows minimal, non-sensitive facts (company, document number, amount,
status). The way back to the portal comes from a cookie set when the customer pressed Pay:
HttpOnly, SameSite=Lax, scoped to that attempt's ``/pay/<attempt>/`` path, expiring with the
checkout, holding the signed token the browser already had. The token is re-checked (a revoked
link gives no way back), it never reaches our database or logs, and the page that shows the
link sends ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store`` like the portal.

Recording a payment on a GET: the success page asks Stripe about its attempt (throttled to
once per attempt per window) and, when Stripe says it is paid, records it through the
webhook's own code path (``stripe_state_apply``: idempotent, under row locks). That is the one
write a GET makes here, and it is justified: it records a fact Stripe confirms, not anything
the request claims, so a reload, a prefetch or a replay can only do what Stripe's own webhook
would do. Doing it on the GET keeps the page working without JavaScript (a POST poll would
not), and covers the lost-webhook case at the moment the customer is looking.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_safe

from billing import selectors, services
from billing.forms import PayAmountForm
from billing.models import Payment, PaymentMethod, PaymentPurpose, PaymentStatus
from crewcommand.lib.colour import accent_on_white
from crewcommand.services import ServiceError
from documents.models import Estimate, Invoice
from portal import http
from portal import selectors as portal_selectors
from portal.middleware import PORTAL_HEADERS, PortalContext, resolve
from portal.models import PortalLink
from portal.views import portal_view

logger = logging.getLogger(__name__)

# Each press of Pay makes a Checkout Session at Stripe; a link can't be used to make thousands.
PAY_ATTEMPTS_PER_HOUR = 30


def _render(request: HttpRequest, portal: PortalContext, template: str, context: dict, **kw):
    return render(request, template, {"portal": portal, "company": portal.company, **context}, **kw)


def _document_page(portal: PortalContext, document: Invoice | Estimate) -> str:
    kind = "invoice" if isinstance(document, Invoice) else "estimate"
    return portal.url(kind, document.public_id)


def _return_urls(payment: Payment) -> tuple[str, str]:
    """Stripe's success and cancel URLs: the attempt's public id, never the portal token."""
    done = reverse("checkout:done", args=[payment.public_id])
    cancelled = reverse("checkout:cancelled", args=[payment.public_id])
    return (
        f"{settings.SITE_URL}{done}?session_id={{CHECKOUT_SESSION_ID}}",
        f"{settings.SITE_URL}{cancelled}",
    )


BACK_COOKIE = "cc_pay_back"
BACK_SALT = "billing.pay-back"
# The checkout's life, plus an hour to come back from it.
BACK_MAX_AGE = (settings.BILLING_CHECKOUT_EXPIRY_MINUTES + 60) * 60


def _attempt_path(payment: Payment) -> str:
    return reverse("checkout:done", args=[payment.public_id]).removesuffix("done/")


@sensitive_variables("portal")
def _remember_way_back(response: HttpResponse, portal: PortalContext, payment: Payment) -> None:
    """Let this browser find its way back to the portal from the attempt's return pages."""
    response.set_signed_cookie(
        BACK_COOKIE,
        portal.token,
        salt=BACK_SALT,
        max_age=BACK_MAX_AGE,
        path=_attempt_path(payment),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def _payable(document: Invoice | Estimate) -> selectors.Payable:
    if isinstance(document, Invoice):
        return selectors.invoice_payable(invoice=document)
    return selectors.deposit_payable(estimate=document)


def _pay(request: HttpRequest, portal: PortalContext, document: Invoice | Estimate) -> HttpResponse:
    """GET: the confirmation page. POST: a Checkout Session for the amount due (or the part the
    customer chose), then off to Stripe."""
    form = PayAmountForm(request.POST if request.method == "POST" else None)
    payable = _payable(document)
    if request.method == "POST":
        if http.rate_hit("pay", str(portal.link.pk), window=3600) > PAY_ATTEMPTS_PER_HOUR:
            form.add_error(None, _("Too many attempts. Please wait a few minutes and try again."))
        elif form.is_valid() and payable.unconfirmed and not form.cleaned_data["pay_again"]:
            form.add_error("pay_again", _("Tick the box to start a new payment anyway."))
        elif form.is_valid():
            try:
                started = services.checkout_start(
                    document=document,
                    amount=form.chosen_amount(),
                    return_urls=_return_urls,
                    pay_again=form.cleaned_data["pay_again"],
                )
            except ServiceError as error:
                form.add_error(None, str(error))
            else:
                response = HttpResponseRedirect(started.url, status=303)
                _remember_way_back(response, portal, started.payment)
                return response
    context = {
        "document": document,
        "payable": payable,
        "form": form,
        "back_url": _document_page(portal, document),
        "unconfirmed_message": (
            services.unconfirmed_message(payable.unconfirmed) if payable.unconfirmed else ""
        ),
    }
    return _render(request, portal, "billing/portal_pay.html", context)


@portal_view
@require_http_methods(["GET", "POST"])
def pay_invoice(request: HttpRequest, portal: PortalContext, invoice_id: str) -> HttpResponse:
    invoice = portal_selectors.invoice_get(portal=portal, public_id=invoice_id)
    return _pay(request, portal, invoice)


@portal_view
@require_http_methods(["GET", "POST"])
def pay_deposit(request: HttpRequest, portal: PortalContext, estimate_id: str) -> HttpResponse:
    estimate = portal_selectors.estimate_get(portal=portal, public_id=estimate_id)
    return _pay(request, portal, estimate)


@portal_view
@require_safe
def pay_link(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """``/p/<token>/pay/``: the pay page of the link's document (its deposit, for an estimate),
    or the portal home for a link to all of a customer's documents."""
    if portal.scope == "invoice":
        return redirect("portal:pay_invoice", portal.token, portal.link.invoice.public_id)
    if portal.scope == "estimate":
        return redirect("portal:pay_deposit", portal.token, portal.link.estimate.public_id)
    return redirect(portal.url("home"))


def _can_see(portal: PortalContext, payment: Payment) -> bool:
    """The link belongs to the attempt's customer and opens its document."""
    if payment.company_id != portal.company.pk or payment.customer_id != portal.customer.pk:
        return False
    if payment.purpose == PaymentPurpose.INVOICE:
        visible = portal_selectors.portal_invoices(portal=portal).filter(pk=payment.invoice_id)
    else:
        visible = portal_selectors.portal_estimates(portal=portal).filter(pk=payment.estimate_id)
    return visible.exists()


# --- Coming back from Stripe (no token in these URLs) --------------------------------------------


def _attempt(payment_id: str, session_id: str | None) -> Payment:
    """The card attempt named by a return URL; with ``session_id``, only if it is the attempt's
    own Checkout Session (what Stripe put in place of ``{CHECKOUT_SESSION_ID}``)."""
    payment = (
        Payment.objects.select_related("company", "customer", "invoice", "estimate")
        .filter(public_id=payment_id, method=PaymentMethod.CARD)
        .exclude(stripe_session_id=None)
        .first()
    )
    if payment is None:
        raise Http404
    if session_id is not None and not constant_time_compare(payment.stripe_session_id, session_id):
        raise Http404
    return payment


@sensitive_variables("token")
def _way_back(request: HttpRequest, payment: Payment) -> PortalContext | None:
    """The portal this browser came from, if it still holds a usable link that opens the
    attempt's document; None otherwise (then the page offers no way into the portal)."""
    try:
        token = request.get_signed_cookie(BACK_COOKIE, salt=BACK_SALT, max_age=BACK_MAX_AGE)
    except (KeyError, signing.BadSignature):
        return None
    link_id, usable = resolve(token)
    if not usable:
        return None
    link = (
        PortalLink.objects.select_related("company", "customer", "estimate", "invoice")
        .filter(pk=link_id)
        .first()
    )
    if link is None:
        return None
    portal = PortalContext(link=link, token=token)
    return portal if _can_see(portal, payment) else None


class _Branding:
    """What the portal layout needs when there is no portal context: the accent colour."""

    def __init__(self, company) -> None:
        self.accent = accent_on_white(company.brand_color)


def _private(response: HttpResponse) -> HttpResponse:
    for name, value in PORTAL_HEADERS.items():
        response[name] = value
    return response


def _return_page(request: HttpRequest, payment: Payment, template: str) -> HttpResponse:
    timezone.activate(payment.company.timezone)
    session_status = services.attempt_return(payment=payment)
    payment.refresh_from_db(fields=["status", "applied", "amount", "failure_message"])
    portal = _way_back(request, payment)
    document = payment.document
    if portal is not None and isinstance(document, Invoice):
        document.refresh_from_db(fields=["amount_paid", "deposit_credit", "status"])
    done = reverse("checkout:status", args=[payment.public_id])
    context = {
        "payment": payment,
        "document": document,
        "company": payment.company,
        "portal": portal or _Branding(payment.company),
        "known": portal is not None,
        "state": selectors.customer_payment_state(payment=payment, session_status=session_status),
        "back_url": _document_page(portal, document) if portal else "",
        "pay_url": _pay_url(portal, payment) if portal else "",
        "status_url": f"{done}?session_id={payment.stripe_session_id}",
    }
    return _private(render(request, template, context))


def _pay_url(portal: PortalContext, payment: Payment) -> str:
    name = (
        "portal:pay_invoice" if payment.purpose == PaymentPurpose.INVOICE else "portal:pay_deposit"
    )
    return reverse(name, args=[portal.token, payment.document.public_id])


@require_safe
def checkout_done(request: HttpRequest, payment_id: str) -> HttpResponse:
    """Where Stripe sends the customer after paying. Asks Stripe (throttled) and records what
    it confirms; shows "confirming" (and polls) until the payment is recorded, then "paid"."""
    payment = _attempt(payment_id, request.GET.get("session_id", ""))
    return _return_page(request, payment, "billing/portal_pay_done.html")


@require_safe
def checkout_status(request: HttpRequest, payment_id: str) -> HttpResponse:
    """The return page's status block, polled by htmx."""
    payment = _attempt(payment_id, request.GET.get("session_id", ""))
    return _return_page(request, payment, "billing/portal_pay_done.html#status")


@require_safe
def checkout_cancelled(request: HttpRequest, payment_id: str) -> HttpResponse:
    """Stripe's cancel URL carries no session id, so this page says only whether this attempt
    charged anything, then goes back to the portal if the browser can. A cancel charges
    nothing; but the URL can be opened again after the attempt was paid (an old tab, history),
    and then "nothing was charged" would be false."""
    payment = _attempt(payment_id, None)
    charged = payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING)
    portal = _way_back(request, payment)
    if portal is not None:
        if charged:
            messages.info(request, _("This payment was not cancelled: it went through."))
        else:
            messages.info(request, _("Payment cancelled. Nothing was charged."))
        return _private(redirect(_document_page(portal, payment.document)))
    context = {"company": payment.company, "portal": _Branding(payment.company), "charged": charged}
    return _private(render(request, "billing/portal_pay_cancelled.html", context))


# --- Return URLs of sessions made before they stopped carrying the token ---------------------


def _payment(portal: PortalContext, payment_id: str) -> Payment:
    payment = get_object_or_404(Payment, public_id=payment_id, method=PaymentMethod.CARD)
    if not _can_see(portal, payment):
        raise Http404
    return payment


@portal_view
@require_safe
def pay_done(request: HttpRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    payment = _payment(portal, payment_id)
    query = request.META.get("QUERY_STRING", "")
    target = reverse("checkout:done", args=[payment.public_id])
    response = redirect(f"{target}?{query}" if query else target)
    _remember_way_back(response, portal, payment)
    return response


@portal_view
@require_safe
def pay_cancelled(request: HttpRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    payment = _payment(portal, payment_id)
    messages.info(request, _("Payment cancelled. Nothing was charged."))
    return redirect(_document_page(portal, payment.document))
