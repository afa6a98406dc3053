"""Contractor pages for payments (the Stripe webhook endpoint is in ``billing.views_public``).

Views are thin: access → form → one service call → render or redirect. The invoice and
estimate panels are fragments the documents pages load with htmx; each form in them posts with
htmx and gets the refreshed panel back (or, without JavaScript, a full page and a redirect).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import selectors, services, stripe_client
from billing.forms import (
    AutopayForm,
    IssueResolveForm,
    ManualPaymentForm,
    PaymentFilterForm,
    PaymentMoveForm,
    RefundForm,
    StripeAccountIdForm,
    StripeOptionsForm,
    TipsFilterForm,
)
from billing.models import Payment, PaymentPurpose, StripeAccount
from billing.quickbooks import selectors as quickbooks_selectors
from billing.services import autopay
from crewcommand import selectors as core_selectors
from crewcommand.access import ContractorRequest, member_required
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.lib.ids import new_public_id
from crewcommand.lib.listing import is_partial, paginate, render_list
from crewcommand.lib.money import format_cad
from crewcommand.models import Job
from documents import selectors as documents_selectors
from documents.models import Estimate, Invoice

logger = logging.getLogger(__name__)

PANEL_ID = "billing-panel"


def _document_url(document: Invoice | Estimate) -> str:
    """The document's dashboard page, or the payments list while documents has no page."""
    try:
        return document.get_absolute_url()
    except NoReverseMatch:
        return reverse("billing_dashboard:payment_list")


# --- Lists -------------------------------------------------------------------------------------


@member_required(action="payment.view")
@require_GET
def payment_list(request: ContractorRequest) -> HttpResponse:
    form = PaymentFilterForm(request.GET or None)
    payments = selectors.payment_list(company=request.company, filters=form.filters())
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "query": query.urlencode(),
        "totals": selectors.payment_totals(payments=payments),
        "issue_count": selectors.open_issue_count(company=request.company),
    }
    return render_list(request, "billing/payment_list.html", payments, context)


@member_required(action="payment.record")
@require_http_methods(["GET", "POST"])
def customer_autopay(request: ContractorRequest, customer_id: str) -> HttpResponse:
    """A customer's saved card: turn autopay on or off, or remove the card."""
    customer = core_selectors.customer_get(company=request.company, public_id=customer_id)
    card = autopay.saved_card_of(customer=customer)
    form = AutopayForm(
        request.POST if request.method == "POST" else None,
        initial={"autopay": bool(card and card.autopay)},
    )
    if request.method == "POST" and card is not None and form.is_valid():
        actor = Actor.member(request.user)
        try:
            if "remove" in request.POST:
                autopay.card_remove(card=card, actor=actor)
                messages.success(request, _("Card removed."))
            else:
                autopay.autopay_set(card=card, enabled=form.cleaned_data["autopay"], actor=actor)
                messages.success(request, _("Autopay saved."))
        except ServiceError as error:
            messages.error(request, str(error))
        return redirect("billing_dashboard:customer_autopay", customer_id=customer.public_id)
    charges = (
        Payment.objects.filter(company=request.company, customer=customer, saved_card__isnull=False)
        .select_related("invoice")
        .order_by("-created_at", "-id")[:20]
    )
    context = {"customer": customer, "card": card, "form": form, "charges": charges}
    return render(request, "billing/customer_autopay.html", context)


@member_required(action="payment.view")
@require_GET
def tips(request: ContractorRequest) -> HttpResponse:
    """The tips report: every tip customers added when paying online, and the total."""
    form = TipsFilterForm(request.GET or None)
    start, end = form.dates()
    payments, total = selectors.tips_report(company=request.company, start=start, end=end)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "total": total, "query": query.urlencode()}
    return render_list(request, "billing/tips_report.html", payments, context)


@member_required(action="payment.view")
@require_GET
def payment_detail(request: ContractorRequest, payment_id: str) -> HttpResponse:
    payment = selectors.payment_get(company=request.company, public_id=payment_id)
    context = {
        "payment": payment,
        "refunds": selectors.payment_refunds(payment=payment),
        "issues": payment.issues.all(),
        "document_url": _document_url(payment.document),
    }
    return render(request, "billing/payment_detail.html", context)


@member_required(action="payment.view")
@require_GET
def issue_list(request: ContractorRequest) -> HttpResponse:
    show_all = request.GET.get("show") == "all"
    issues = selectors.issue_list(company=request.company, open_only=not show_all)
    context = {
        "page": paginate(request, issues),
        "show_all": show_all,
        "open_count": selectors.open_issue_count(company=request.company),
    }
    return render(request, "billing/issue_list.html", context)


@member_required(action="payment.resolve_issue")
@require_POST
def issue_resolve(request: ContractorRequest, issue_id: str) -> HttpResponse:
    issue = selectors.issue_get(company=request.company, public_id=issue_id)
    form = IssueResolveForm(request.POST)
    resolution = form.cleaned_data["resolution"] if form.is_valid() else ""
    services.issue_resolve(issue=issue, actor=Actor.member(request.user), resolution=resolution)
    messages.success(request, _("Marked as resolved."))
    return redirect("billing_dashboard:issue_list")


# --- Panels on documents -----------------------------------------------------------------------


def _panel_context(document: Invoice | Estimate) -> dict:
    if isinstance(document, Invoice):
        payments = selectors.invoice_payments(invoice=document)
        payable = selectors.invoice_payable(invoice=document)
        kind = "invoice"
    else:
        payments = selectors.estimate_deposit_payments(estimate=document)
        payable = selectors.deposit_payable(estimate=document)
        kind = "estimate"
    # QuickBooks sync status of the invoice (a small badge; None when never synced).
    qbo_record = (
        quickbooks_selectors.record_for(
            company=document.company, kind="invoice", local_id=document.pk
        )
        if kind == "invoice"
        else None
    )
    return {
        "document": document,
        "payments": payments,
        "payable": payable,
        "kind": kind,
        "qbo_record": qbo_record,
    }


def _render_panel(
    request: ContractorRequest, document: Invoice | Estimate, **extra
) -> HttpResponse:
    """The panel for htmx; a plain GET (the document page's link without JavaScript, the
    panel's own Cancel links) gets it inside a page of its own."""
    context = {**_panel_context(document), **extra}
    if not is_partial(request):
        return _panel_page(request, "billing/_invoice_payments_panel.html", context, document)
    return render(request, "billing/_invoice_payments_panel.html", context)


def _panel_page(
    request: ContractorRequest, panel: str, context: dict, owner: Invoice | Estimate | Job
) -> HttpResponse:
    """A panel the page loads with htmx, as a whole page of its own, with a way back."""
    name = owner.title if isinstance(owner, Job) else owner.display_number
    page = {"panel": panel, "name": name, "back_url": _document_url(owner)}
    return render(request, "billing/panel_page.html", {**context, **page})


def _changed_panel(request: ContractorRequest, document: Invoice | Estimate) -> HttpResponse:
    """The panel after money changed: it also updates the page's status badge out of band, and
    fires ``billingChanged`` so other parts of the page (totals) can reload themselves."""
    document.refresh_from_db()
    response = _render_panel(request, document, changed=True)
    response["HX-Trigger"] = "billingChanged"
    return response


@member_required
@require_GET
def invoice_payments(request: ContractorRequest, invoice_id: str) -> HttpResponse:
    invoice = documents_selectors.invoice_get(company=request.company, public_id=invoice_id)
    return _render_panel(request, invoice)


@member_required
@require_GET
def estimate_payments(request: ContractorRequest, estimate_id: str) -> HttpResponse:
    estimate = documents_selectors.estimate_get(company=request.company, public_id=estimate_id)
    return _render_panel(request, estimate)


@member_required
@require_GET
def job_payments(request: ContractorRequest, job_id: str) -> HttpResponse:
    job = core_selectors.job_get(company=request.company, public_id=job_id)
    context = {"job": job, "money": selectors.job_money(job=job)}
    if not is_partial(request):
        return _panel_page(request, "billing/_job_payments.html", context, job)
    return render(request, "billing/_job_payments.html", context)


def _record(request: ContractorRequest, document: Invoice | Estimate) -> HttpResponse:
    due = document.balance if isinstance(document, Invoice) else None
    form = ManualPaymentForm(
        request.POST if request.method == "POST" else None,
        initial={"amount": due} if due else None,
    )
    if request.method == "POST" and form.is_valid():
        target = {"invoice" if isinstance(document, Invoice) else "estimate": document}
        try:
            services.payment_record(actor=Actor.member(request.user), **target, **form.cleaned_data)
        except ServiceError as error:
            form.add_error("amount", str(error))
        else:
            messages.success(request, _("Payment recorded."))
            if is_partial(request):
                return _changed_panel(request, document)
            return redirect(_document_url(document))
    context = {**_panel_context(document), "form": form, "mode": "record"}
    if is_partial(request):
        return render(request, "billing/_invoice_payments_panel.html", context)
    return render(request, "billing/payment_form.html", context)


@member_required(action="payment.record")
@require_http_methods(["GET", "POST"])
def payment_record(request: ContractorRequest, invoice_id: str) -> HttpResponse:
    invoice = documents_selectors.invoice_get(company=request.company, public_id=invoice_id)
    return _record(request, invoice)


@member_required(action="payment.record")
@require_http_methods(["GET", "POST"])
def deposit_record(request: ContractorRequest, estimate_id: str) -> HttpResponse:
    estimate = documents_selectors.estimate_get(company=request.company, public_id=estimate_id)
    return _record(request, estimate)


@member_required(action="payment.resolve_issue")
@require_http_methods(["GET", "POST"])
def payment_move(request: ContractorRequest, payment_id: str) -> HttpResponse:
    """Move a payment that landed on the wrong invoice (or a flagged duplicate) to another open
    invoice of the same customer."""
    payment = selectors.payment_get(company=request.company, public_id=payment_id)
    targets = services.move_targets(payment=payment)
    form = PaymentMoveForm(request.POST if request.method == "POST" else None, targets=targets)
    if request.method == "POST" and form.is_valid():
        target = next(i for i in targets if i.public_id == form.cleaned_data["to_invoice"])
        try:
            services.payment_move(
                payment=payment,
                to_invoice=target,
                actor=Actor.member(request.user),
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as error:
            form.add_error("to_invoice", str(error))
        else:
            messages.success(
                request,
                _("Payment moved to %(number)s.") % {"number": target.display_number},
            )
            return redirect("billing_dashboard:payment_detail", payment_id=payment.public_id)
    return render(
        request,
        "billing/payment_move.html",
        {"payment": payment, "form": form, "targets": targets},
    )


REFUND_SALT = "billing.refund-confirm"
REFUND_CONFIRM_MAX_AGE = 30 * 60


@member_required(action="payment.refund")
@require_http_methods(["GET", "POST"])
def refund(request: ContractorRequest, payment_id: str) -> HttpResponse:
    """Three steps before money goes back: the form (amount, effect on the balance, reason),
    a confirmation page showing the customer, the amount and what happens to the balance, and
    the POST of that confirmation (signed, single-use: posting it twice refunds once)."""
    payment = selectors.payment_get(company=request.company, public_id=payment_id)
    panel_document = _panel_document(request, payment)
    if request.method == "POST" and "confirm" in request.POST:
        return _refund_confirmed(request, payment, panel_document)
    form = RefundForm(
        request.POST if request.method == "POST" else None, initial={"amount": payment.refundable}
    )
    context = {"payment": payment, "form": form, "mode": "refund"}
    if request.method == "POST" and "edit" not in request.POST and form.is_valid():
        data = form.cleaned_data
        if data["amount"] > payment.refundable:
            form.add_error(
                "amount",
                _("You can refund at most %(left)s on this payment.")
                % {"left": format_cad(payment.refundable)},
            )
        else:
            context.update(
                mode="refund_confirm",
                data=data,
                effect=selectors.refund_effect(
                    payment=payment, amount=data["amount"], kind=data["kind"]
                ),
                intent=signing.dumps(
                    {
                        "payment": payment.public_id,
                        "amount": str(data["amount"]),
                        "kind": data["kind"],
                        "reason": data["reason"],
                        "refund": new_public_id(),
                    },
                    salt=REFUND_SALT,
                ),
            )
    return _refund_page(request, payment, panel_document, context)


def _refund_confirmed(
    request: HttpRequest, payment, panel_document: Invoice | Estimate | None
) -> HttpResponse:
    try:
        intent = signing.loads(
            request.POST.get("intent", ""), salt=REFUND_SALT, max_age=REFUND_CONFIRM_MAX_AGE
        )
    except signing.BadSignature:
        intent = None
    if not intent or intent.get("payment") != payment.public_id:
        messages.error(
            request, _("That confirmation has expired. Check the refund and confirm again.")
        )
        form = RefundForm(initial={"amount": payment.refundable})
        context = {"payment": payment, "form": form, "mode": "refund"}
        return _refund_page(request, payment, panel_document, context)
    try:
        services.refund_create(
            payment=payment,
            amount=Decimal(intent["amount"]),
            actor=Actor.member(request.user),
            kind=intent["kind"],
            reason=intent["reason"],
            public_id=intent["refund"],
        )
    except ServiceError as error:
        form = RefundForm(
            {"amount": intent["amount"], "kind": intent["kind"], "reason": intent["reason"]}
        )
        form.is_valid()
        form.add_error("amount", str(error))
        context = {"payment": payment, "form": form, "mode": "refund"}
        return _refund_page(request, payment, panel_document, context)
    messages.success(request, _("Refund recorded."))
    if is_partial(request) and panel_document is not None:
        return _changed_panel(request, panel_document)
    return redirect("billing_dashboard:payment_detail", payment_id=payment.public_id)


def _refund_page(
    request: HttpRequest, payment, panel_document: Invoice | Estimate | None, context: dict
) -> HttpResponse:
    if is_partial(request) and panel_document is not None:
        return _render_panel(request, panel_document, **context)
    return render(request, "billing/refund_form.html", context)


def _panel_document(request: ContractorRequest, payment) -> Invoice | Estimate | None:
    """Which panel a refund made from a panel returns to (a deposit shows on both)."""
    panel = request.GET.get("panel") or request.POST.get("panel")
    if panel == "invoice" and payment.invoice_id:
        return payment.invoice
    if panel == "estimate" and payment.purpose == PaymentPurpose.DEPOSIT:
        return payment.estimate
    return None


# --- Stripe connection -------------------------------------------------------------------------


def _stripe_context(request: ContractorRequest, **forms) -> dict:
    account = selectors.stripe_account_for(company=request.company)
    return {
        "account": account,
        "platform_ready": stripe_client.is_enabled(),
        "ready": selectors.online_payment_ready(account=account),
        "id_form": forms.get("id_form") or StripeAccountIdForm(),
        "options_form": forms.get("options_form")
        or StripeOptionsForm(instance=account or StripeAccount(company=request.company)),
    }


@never_cache
@member_required(action="stripe.manage")
@require_http_methods(["GET", "POST"])
def stripe_settings(request: ContractorRequest) -> HttpResponse:
    """The Stripe connection page; POST saves the payment options."""
    options_form = None
    if request.method == "POST":
        account = selectors.stripe_account_for(company=request.company)
        options_form = StripeOptionsForm(request.POST, instance=account)
        if options_form.is_valid():
            services.stripe_options_update(
                company=request.company,
                actor=Actor.member(request.user),
                fields=options_form.cleaned_data,
            )
            messages.success(request, _("Payment options saved."))
            return redirect("billing_dashboard:stripe")
    context = _stripe_context(request, options_form=options_form)
    return render(request, "billing/stripe.html", context)


@member_required(action="stripe.manage")
@require_POST
def stripe_link(request: ContractorRequest) -> HttpResponse:
    """Connect an existing Stripe account by its id (Stripe confirms it first)."""
    form = StripeAccountIdForm(request.POST)
    if form.is_valid():
        try:
            account = services.stripe_account_link(
                company=request.company,
                account_id=form.cleaned_data["account_id"],
                actor=Actor.member(request.user),
            )
        except ServiceError as error:
            form.add_error("account_id", str(error))
        else:
            if account.charges_enabled:
                messages.success(request, _("Stripe is connected. Customers can pay online."))
            else:
                messages.warning(
                    request,
                    _(
                        "Connected, but Stripe can't take payments for this account yet. Finish its setup in Stripe."
                    ),
                )
            return redirect("billing_dashboard:stripe")
    return render(request, "billing/stripe.html", _stripe_context(request, id_form=form))


@never_cache
@member_required(action="stripe.manage")
@require_GET
def stripe_onboard(request: ContractorRequest) -> HttpResponse:
    """Send the owner to Stripe's hosted onboarding (Account Links). A GET, so the onboarding
    link can be made afresh each time (Stripe's ``refresh_url`` comes back here)."""
    try:
        url = services.stripe_onboarding_start(
            company=request.company,
            actor=Actor.member(request.user),
            refresh_url=settings.SITE_URL + reverse("billing_dashboard:stripe_onboard"),
            return_url=settings.SITE_URL + reverse("billing_dashboard:stripe_return"),
        )
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect("billing_dashboard:stripe")
    return redirect(url)


@never_cache
@member_required(action="stripe.manage")
@require_GET
def stripe_return(request: ContractorRequest) -> HttpResponse:
    try:
        account = services.stripe_account_refresh(
            company=request.company, actor=Actor.member(request.user)
        )
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        if account is not None and account.is_ready:
            messages.success(request, _("Stripe is connected. Customers can pay online."))
        else:
            messages.info(
                request, _("Stripe still needs a few details before it can take payments.")
            )
    return redirect("billing_dashboard:stripe")


@member_required(action="stripe.manage")
@require_POST
def stripe_disconnect(request: ContractorRequest) -> HttpResponse:
    services.stripe_disconnect(company=request.company, actor=Actor.member(request.user))
    messages.success(
        request, _("Stripe is disconnected. Customers see your other payment instructions.")
    )
    return redirect("billing_dashboard:stripe")
