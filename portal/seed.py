"""Demo data hook (``seed_demo``): portal links to a demo customer's estimate and invoice.

Raw tokens can't be recovered, so every run revokes the previous demo links and makes new ones,
printing each as ``portal: <url>``. Each run's links lead somewhere to act: an estimate that
can still be signed and an invoice with a balance to pay. The documents seed (run before this
hook) normally provides them; when it hasn't, or an earlier run's estimate was signed, declined
or expired and its invoice paid, a small sent estimate or invoice is created here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import F, Q
from django.utils import timezone

from crewcommand.lib.activity import Actor
from crewcommand.lib.money import format_cad
from crewcommand.models import Company, Customer
from documents import services as documents
from documents.models import (
    OPEN_INVOICE_STATUSES,
    DepositKind,
    Estimate,
    EstimateStatus,
    Invoice,
    LineKind,
)
from portal.models import LinkChannel, PortalLink
from portal.services import link_create

DEMO_CUSTOMER = "Alice Tremblay"
TERMS = (
    "Work starts within 10 business days of acceptance. Prices include labour and materials "
    "listed. Any hidden damage found during the work is quoted separately before we proceed. "
    "Workmanship is guaranteed for 2 years; manufacturer warranties apply to equipment."
)


def _estimate_lines() -> list[dict]:
    return [
        {
            "description": "Remove and dispose of the old water heater",
            "quantity": Decimal("1"),
            "unit_price": Decimal("180.00"),
            "kind": LineKind.STANDARD,
        },
        {
            "description": "Installation labour (2 technicians)",
            "quantity": Decimal("4"),
            "unit_price": Decimal("95.00"),
            "kind": LineKind.STANDARD,
        },
        {
            "description": "50-gallon gas tank water heater",
            "quantity": Decimal("1"),
            "unit_price": Decimal("1450.00"),
            "kind": LineKind.CHOICE,
            "group": "Water heater",
            "selected_by_default": True,
        },
        {
            "description": "Tankless on-demand water heater",
            "quantity": Decimal("1"),
            "unit_price": Decimal("2890.00"),
            "kind": LineKind.CHOICE,
            "group": "Water heater",
            "selected_by_default": False,
        },
        {
            "description": "Expansion tank",
            "quantity": Decimal("1"),
            "unit_price": Decimal("165.00"),
            "kind": LineKind.OPTIONAL,
            "selected_by_default": True,
        },
        {
            "description": "Water softener (installed)",
            "quantity": Decimal("1"),
            "unit_price": Decimal("1195.00"),
            "kind": LineKind.OPTIONAL,
            "selected_by_default": False,
        },
    ]


def _demo_estimate(company: Company, customer: Customer) -> Estimate:
    actor = Actor.system()
    estimate = documents.estimate_create(company=company, customer=customer, actor=actor)
    for fields in _estimate_lines():
        documents.line_save(doc=estimate, actor=actor, fields=fields)
    documents.estimate_update(
        estimate=estimate,
        actor=actor,
        fields={
            "terms": TERMS,
            "deposit_kind": DepositKind.PERCENT,
            "deposit_value": Decimal("25.00"),
            "valid_until": timezone.localdate() + dt.timedelta(days=30),
        },
    )
    return documents.estimate_send(estimate=estimate, actor=actor)


def _demo_invoice(company: Company, customer: Customer) -> Invoice:
    actor = Actor.system()
    invoice = documents.invoice_create(company=company, customer=customer, actor=actor)
    for description, quantity, price in [
        ("Furnace tune-up and safety inspection", "1", "149.00"),
        ("Replacement air filter (MERV 11)", "2", "34.50"),
    ]:
        documents.line_save(
            doc=invoice,
            actor=actor,
            fields={
                "description": description,
                "quantity": Decimal(quantity),
                "unit_price": Decimal(price),
            },
        )
    return documents.invoice_send(invoice=invoice, actor=actor)


def _pick_documents(company: Company) -> tuple[Estimate, Invoice]:
    """An estimate the customer can still sign and an invoice with money still to pay: the
    demo's own, or new ones when an earlier run's were signed, declined, expired or paid."""
    today = timezone.localdate()
    open_estimates = (
        Estimate.objects.filter(
            company=company, status__in=[EstimateStatus.SENT, EstimateStatus.VIEWED]
        )
        .exclude(current_revision=None)
        .filter(Q(current_revision__valid_until=None) | Q(current_revision__valid_until__gte=today))
        .select_related("customer")
    )
    estimate = (
        open_estimates.filter(customer__name=DEMO_CUSTOMER).order_by("-number").first()
        or open_estimates.order_by("-number").first()
    )
    customer = (
        estimate.customer
        if estimate
        else Customer.objects.filter(company=company, name=DEMO_CUSTOMER).first()
        or Customer.objects.filter(company=company).order_by("name").first()
    )
    if estimate is None:
        estimate = _demo_estimate(company, customer)
    invoices = Invoice.objects.filter(
        company=company,
        status__in=OPEN_INVOICE_STATUSES,
        total__gt=F("deposit_credit") + F("amount_paid"),
    )
    invoice = invoices.filter(customer=customer).order_by("-number").first() or _demo_invoice(
        company, customer
    )
    return estimate, invoice


def seed_portal_links(*, company: Company, stdout) -> None:
    estimate, invoice = _pick_documents(company)
    PortalLink.objects.filter(company=company, channel=LinkChannel.DEMO, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    about = {
        estimate: f"{estimate.display_number} for {estimate.customer.name}, ready to sign",
        invoice: f"{invoice.display_number} for {invoice.customer.name}, "
        f"{format_cad(invoice.balance)} to pay",
    }
    for document in (estimate, invoice):
        stdout.write(f"{about[document]}:")
        issued = link_create(
            customer=document.customer,
            actor=Actor.system(),
            document=document,
            channel=LinkChannel.DEMO,
            sent_to=document.customer.name,
        )
        stdout.write(f"portal: {issued.url}")
