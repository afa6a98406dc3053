"""Public billing pages: no login and no portal token in their URLs.

Under ``/pay/<attempt>/``: the pages Stripe sends the customer back to. Their URLs carry no
portal token (Stripe stores and echoes return URLs, so a token there would sit in Stripe, in
every stored event and in browser history): only the attempt's random public id, and on the
success page the Checkout Session id Stripe substitutes, which must match the attempt's. From
those alone the page shows minimal, non-sensitive facts (company, document number, amount,
status). The way back to the portal comes from a cookie set when the customer pressed Pay
(``billing.views_portal``): HttpOnly, SameSite=Lax, scoped to that attempt's ``/pay/<attempt>/``
path, expiring with the checkout, holding the signed token the browser already had. The token is
re-checked (a revoked link gives no way back), it never reaches our database or logs, and the
page that shows the link sends ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``
like the portal.

Recording a payment on a GET: the success page asks Stripe about its attempt (throttled to
once per attempt per window) and, when Stripe says it is paid, records it through the
webhook's own code path (``stripe_state_apply``: idempotent, under row locks). That is the one
write a GET makes here, and it is justified: it records a fact Stripe confirms, not anything
the request claims, so a reload, a prefetch or a replay can only do what Stripe's own webhook
would do. Doing it on the GET keeps the page working without JavaScript (a POST poll would
not), and covers the lost-webhook case at the moment the customer is looking.

Under ``/webhooks/``: the Stripe webhook endpoint.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST, require_safe

from billing import selectors, services, stripe_client, webhooks
from billing.models import Payment, PaymentMethod, PaymentPurpose, PaymentStatus
from billing.views_portal import BACK_COOKIE, BACK_MAX_AGE, BACK_SALT, can_see, document_page
from crewcommand.lib.colour import accent_on_white
from documents.models import Invoice
from portal.middleware import PORTAL_HEADERS, PortalContext, resolve
from portal.models import PortalLink

logger = logging.getLogger(__name__)


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
    return portal if can_see(portal, payment) else None


class _Branding:
    """What the portal layout needs when there is no portal context: the accent colour."""

    def __init__(self, company) -> None:
        self.accent = accent_on_white(company.brand_color)


def _private(response: HttpResponse) -> HttpResponse:
    for name, value in PORTAL_HEADERS.items():
        response[name] = value
    return response


def _customer_language(payment: Payment) -> None:
    translation.activate(payment.customer.language or payment.company.default_language)


def _return_page(request: HttpRequest, payment: Payment, template: str) -> HttpResponse:
    timezone.activate(payment.company.timezone)
    _customer_language(payment)
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
        "back_url": document_page(portal, document) if portal else "",
        "pay_url": _pay_url(portal, payment) if portal else "",
        "status_url": f"{done}?session_id={payment.stripe_session_id}",
    }
    return _private(render(request, template, context))


def _pay_url(portal: PortalContext, payment: Payment) -> str:
    name = (
        "billing_portal:pay_invoice"
        if payment.purpose == PaymentPurpose.INVOICE
        else "billing_portal:pay_deposit"
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
    _customer_language(payment)
    charged = payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING)
    portal = _way_back(request, payment)
    if portal is not None:
        if charged:
            messages.info(request, _("This payment was not cancelled: it went through."))
        else:
            messages.info(request, _("Payment cancelled. Nothing was charged."))
        return _private(redirect(document_page(portal, payment.document)))
    context = {"company": payment.company, "portal": _Branding(payment.company), "charged": charged}
    return _private(render(request, "billing/portal_pay_cancelled.html", context))


# --- Webhook -----------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify, store, queue, answer. Bad signatures, stale timestamps and bodies that are not
    events get 400 and write nothing; every verified event gets 200 (``queued``, ``duplicate``
    or ``ignored``): processing happens in a worker (``billing.webhooks``)."""
    try:
        event = stripe_client.event_verify(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except stripe_client.BadWebhook as error:
        logger.info("stripe webhook refused: %s", error)
        return HttpResponse("invalid", status=400, content_type="text/plain")
    received = webhooks.event_receive(event=event)
    return HttpResponse(received.value, status=200, content_type="text/plain")
