"""Customer payment pages under ``/p/<token>/pay/``: the one-tap confirmation page behind
``{payment_link}``, the POST that sends the customer to Stripe Checkout, and the pages Stripe
sends them back to. ``PortalMiddleware`` has resolved the token; ``portal_view`` checks it.

None of these pages marks anything paid: money is recorded from Stripe's webhook (or by
reconciliation asking Stripe). The return page only reads, and polls until the webhook lands.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from billing import selectors, services
from billing.forms import PayAmountForm
from billing.models import Payment, PaymentMethod, PaymentPurpose
from crewcommand.services import ServiceError
from documents.models import Estimate, Invoice
from portal import http
from portal import selectors as portal_selectors
from portal.middleware import PortalContext
from portal.views import portal_view

logger = logging.getLogger(__name__)

# Each press of Pay makes a Checkout Session at Stripe; a link can't be used to make thousands.
PAY_ATTEMPTS_PER_HOUR = 30


def _render(request: HttpRequest, portal: PortalContext, template: str, context: dict, **kw):
    return render(request, template, {"portal": portal, "company": portal.company, **context}, **kw)


def _document_page(portal: PortalContext, document: Invoice | Estimate) -> str:
    kind = "invoice" if isinstance(document, Invoice) else "estimate"
    return portal.url(kind, document.public_id)


def _return_urls(portal: PortalContext):
    def urls(payment: Payment) -> tuple[str, str]:
        done = reverse("portal:pay_done", args=[portal.token, payment.public_id])
        cancelled = reverse("portal:pay_cancelled", args=[portal.token, payment.public_id])
        return (
            f"{settings.SITE_URL}{done}?session_id={{CHECKOUT_SESSION_ID}}",
            f"{settings.SITE_URL}{cancelled}",
        )

    return urls


def _payable(document: Invoice | Estimate) -> selectors.Payable:
    if isinstance(document, Invoice):
        return selectors.invoice_payable(invoice=document)
    return selectors.deposit_payable(estimate=document)


def _pay(request: HttpRequest, portal: PortalContext, document: Invoice | Estimate) -> HttpResponse:
    """GET: the confirmation page. POST: a Checkout Session for the amount due (or the part the
    customer chose), then off to Stripe."""
    form = PayAmountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if http.rate_hit("pay", str(portal.link.pk), window=3600) > PAY_ATTEMPTS_PER_HOUR:
            form.add_error(None, _("Too many attempts. Please wait a few minutes and try again."))
        elif form.is_valid():
            try:
                started = services.checkout_start(
                    document=document,
                    amount=form.chosen_amount(),
                    return_urls=_return_urls(portal),
                )
            except ServiceError as error:
                form.add_error(None, str(error))
            else:
                return HttpResponseRedirect(started.url, status=303)
    context = {
        "document": document,
        "payable": _payable(document),
        "form": form,
        "back_url": _document_page(portal, document),
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


def _payment(portal: PortalContext, payment_id: str) -> Payment:
    """A card payment of this link's customer, on a document the link can open."""
    payment = get_object_or_404(
        Payment.objects.select_related("invoice", "estimate", "customer", "company"),
        public_id=payment_id,
        company=portal.company,
        customer=portal.customer,
        method=PaymentMethod.CARD,
    )
    if payment.purpose == PaymentPurpose.INVOICE:
        visible = portal_selectors.portal_invoices(portal=portal).filter(pk=payment.invoice_id)
    else:
        visible = portal_selectors.portal_estimates(portal=portal).filter(pk=payment.estimate_id)
    if not visible.exists():
        raise Http404
    return payment


def _done_context(portal: PortalContext, payment: Payment, *, ask_stripe: bool) -> dict:
    document = payment.document
    return {
        "payment": payment,
        "document": document,
        "state": selectors.customer_payment_state(payment=payment, ask_stripe=ask_stripe),
        "back_url": _document_page(portal, document),
        "pay_url": reverse(
            "portal:pay_invoice"
            if payment.purpose == PaymentPurpose.INVOICE
            else "portal:pay_deposit",
            args=[portal.token, document.public_id],
        ),
        "status_url": reverse("portal:pay_status", args=[portal.token, payment.public_id]),
    }


@portal_view
@require_safe
def pay_done(request: HttpRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    """Where Stripe sends the customer after paying. Shows "confirming" until the webhook has
    recorded the payment (the page polls), then "paid"."""
    payment = _payment(portal, payment_id)
    context = _done_context(portal, payment, ask_stripe=True)
    return _render(request, portal, "billing/portal_pay_done.html", context)


@portal_view
@require_safe
def pay_status(request: HttpRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    payment = _payment(portal, payment_id)
    context = _done_context(portal, payment, ask_stripe=False)
    return _render(request, portal, "billing/portal_pay_done.html#status", context)


@portal_view
@require_safe
def pay_cancelled(request: HttpRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    payment = _payment(portal, payment_id)
    messages.info(request, _("Payment cancelled. Nothing was charged."))
    return redirect(_document_page(portal, payment.document))
