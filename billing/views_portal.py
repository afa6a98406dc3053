"""Customer payment pages.

Under ``/p/<token>/pay/``: the one-tap confirmation page behind ``{payment_link}`` and the POST
that sends the customer to Stripe Checkout (``PortalMiddleware`` has resolved the token;
``portal_view`` checks it).

The pages Stripe sends the customer back to (``/pay/<attempt>/``, no token) are in
``billing.views_public``; the cookie that shows them the way back is set here.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_safe

from billing import selectors, services
from billing.forms import PayAmountForm, tip_for
from billing.models import TIP_PRESETS, Payment, PaymentMethod, PaymentPurpose
from billing.services import autopay
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from documents.models import Estimate, Invoice
from portal import http, stepup
from portal import selectors as portal_selectors
from portal.http import PortalRequest
from portal.middleware import PortalContext
from portal.views_portal import check_code, portal_view, step_up_context


class _NoCode(Exception):
    """The code field was empty or malformed: its error is already on the form."""


logger = logging.getLogger(__name__)

# Each press of Pay makes a Checkout Session at Stripe; a link can't be used to make thousands.
PAY_ATTEMPTS_PER_HOUR = 30


def _render(request: PortalRequest, portal: PortalContext, template: str, context: dict, **kw):
    return render(request, template, {"portal": portal, "company": portal.company, **context}, **kw)


def document_page(portal: PortalContext, document: Invoice | Estimate) -> str:
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


def _pay(
    request: PortalRequest, portal: PortalContext, document: Invoice | Estimate
) -> HttpResponse:
    """GET: the confirmation page. POST: a Checkout Session for the amount due (or the part the
    customer chose), then off to Stripe."""
    form = PayAmountForm(request.POST if request.method == "POST" else None)
    payable = _payable(document)
    step_up = step_up_context(request, portal, payable.due)
    step_up["needed"] = payable.step_up
    if request.method == "POST":
        if http.rate_hit("pay", str(portal.link.pk), window=3600) > PAY_ATTEMPTS_PER_HOUR:
            form.add_error(None, _("Too many attempts. Please wait a few minutes and try again."))
        elif form.is_valid() and payable.unconfirmed and not form.cleaned_data["pay_again"]:
            form.add_error("pay_again", _("Tick the box to start a new payment anyway."))
        elif form.is_valid():
            amount = form.chosen_amount()
            tip = form.chosen_tip(amount or payable.due) if payable.tips else None
            try:
                challenge = None
                if step_up["needed"]:
                    challenge = check_code(request, portal, form, purpose="pay")
                    if challenge is None:
                        raise _NoCode
                started = services.checkout_start(
                    document=document,
                    amount=amount,
                    return_urls=_return_urls,
                    pay_again=form.cleaned_data["pay_again"],
                    tip=tip,
                    save_card=bool(form.cleaned_data.get("save_card"))
                    and isinstance(document, Invoice),
                    challenge=challenge,
                )
            except _NoCode:
                pass
            except stepup.CodeRefused as error:
                form.add_error("code", str(error))
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
        "back_url": document_page(portal, document),
        "tip_presets": [(p, tip_for(payable.due, p)) for p in TIP_PRESETS],
        "step_up": step_up,
        "unconfirmed_message": (
            services.unconfirmed_message(payable.unconfirmed) if payable.unconfirmed else ""
        ),
    }
    return _render(request, portal, "billing/portal_pay.html", context)


@portal_view
@require_http_methods(["GET", "POST"])
def pay_invoice(request: PortalRequest, portal: PortalContext, invoice_id: str) -> HttpResponse:
    invoice = portal_selectors.invoice_get(portal=portal, public_id=invoice_id)
    return _pay(request, portal, invoice)


@portal_view
@require_http_methods(["GET", "POST"])
def pay_deposit(request: PortalRequest, portal: PortalContext, estimate_id: str) -> HttpResponse:
    estimate = portal_selectors.estimate_get(portal=portal, public_id=estimate_id)
    return _pay(request, portal, estimate)


@portal_view
@require_http_methods(["GET", "POST"])
def saved_card(request: PortalRequest, portal: PortalContext) -> HttpResponse:
    """``/p/<token>/pay/card/``: the card the customer saved with this company, and a button to
    remove it (detached at Stripe; autopay stops)."""
    card = autopay.saved_card_of(customer=portal.customer)
    if request.method == "POST" and card is not None:
        try:
            autopay.card_remove(card=card, actor=Actor.customer(portal.customer.name))
        except ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Your card was removed. It won't be charged again."))
        return redirect("billing_portal:saved_card", portal.token)
    return _render(request, portal, "billing/portal_saved_card.html", {"card": card})


@portal_view
@require_safe
def pay_link(request: PortalRequest, portal: PortalContext) -> HttpResponse:
    """``/p/<token>/pay/``: the pay page of the link's document (its deposit, for an estimate),
    or the portal home for a link to all of a customer's documents."""
    if portal.scope == "invoice":
        return redirect("billing_portal:pay_invoice", portal.token, portal.link.invoice.public_id)
    if portal.scope == "estimate":
        return redirect("billing_portal:pay_deposit", portal.token, portal.link.estimate.public_id)
    return redirect(portal.url("home"))


def can_see(portal: PortalContext, payment: Payment) -> bool:
    """The link belongs to the attempt's customer and opens its document."""
    if payment.company_id != portal.company.pk or payment.customer_id != portal.customer.pk:
        return False
    if payment.purpose == PaymentPurpose.INVOICE:
        visible = portal_selectors.portal_invoices(portal=portal).filter(pk=payment.invoice_id)
    else:
        visible = portal_selectors.portal_estimates(portal=portal).filter(pk=payment.estimate_id)
    return visible.exists()


# --- Return URLs of sessions made before they stopped carrying the token ---------------------


def _payment(portal: PortalContext, payment_id: str) -> Payment:
    payment = get_object_or_404(Payment, public_id=payment_id, method=PaymentMethod.CARD)
    if not can_see(portal, payment):
        raise Http404
    return payment


@portal_view
@require_safe
def pay_done(request: PortalRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    payment = _payment(portal, payment_id)
    query = request.META.get("QUERY_STRING", "")
    target = reverse("checkout:done", args=[payment.public_id])
    response = redirect(f"{target}?{query}" if query else target)
    _remember_way_back(response, portal, payment)
    return response


@portal_view
@require_safe
def pay_cancelled(request: PortalRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    payment = _payment(portal, payment_id)
    messages.info(request, _("Payment cancelled. Nothing was charged."))
    return redirect(document_page(portal, payment.document))
