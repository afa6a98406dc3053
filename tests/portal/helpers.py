"""Portal test data: sent estimates and invoices built straight in the database (the portal
only reads them), links, and a signed estimate."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from crewcommand.lib.activity import Actor
from crewcommand.models import Customer
from documents.models import (
    DepositKind,
    DocumentKind,
    Estimate,
    EstimateRevision,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    LineItem,
)
from documents.services import next_number
from documents.totals import Selection, invoice_totals, revision_totals
from portal import services
from portal.forms import CONSENT_TEXT
from portal.signatures import typed_svg

ESTIMATE_LINES = [
    {"description": "Remove and dispose of the old water heater", "unit_price": "180.00"},
    {"description": "Installation labour", "quantity": "4", "unit_price": "95.00"},
    {
        "description": "50-gallon tank",
        "unit_price": "1450.00",
        "kind": "choice",
        "group": "Water heater",
        "selected_by_default": True,
    },
    {
        "description": "Tankless heater",
        "unit_price": "2890.00",
        "kind": "choice",
        "group": "Water heater",
        "selected_by_default": False,
    },
    {
        "description": "Expansion tank",
        "unit_price": "165.00",
        "kind": "optional",
        "selected_by_default": True,
    },
    {
        "description": "Water softener",
        "unit_price": "1195.00",
        "kind": "optional",
        "selected_by_default": False,
    },
]
INVOICE_LINES = [
    {"description": "Furnace tune-up", "unit_price": "149.00"},
    {"description": "Air filter", "quantity": "2", "unit_price": "34.50"},
]
TERMS = "Work starts within 10 business days. Workmanship guaranteed for 2 years."


def _line(position: int, spec: dict, **owner) -> LineItem:
    return LineItem.objects.create(
        position=position,
        description=spec["description"],
        quantity=Decimal(spec.get("quantity", "1")),
        unit_price=Decimal(spec["unit_price"]),
        taxable=spec.get("taxable", True),
        kind=spec.get("kind", "standard"),
        group=spec.get("group", ""),
        selected_by_default=spec.get("selected_by_default", True),
        **owner,
    )


@transaction.atomic
def make_estimate(
    customer: Customer,
    *,
    lines: list[dict] | None = None,
    status: str = EstimateStatus.SENT,
    valid_days: int = 30,
    deposit_percent: str = "25.00",
) -> Estimate:
    now = timezone.now()
    estimate = Estimate.objects.create(
        company=customer.company,
        customer=customer,
        number=next_number(company=customer.company, kind=DocumentKind.ESTIMATE),
        status=status,
        sent_at=now if status != EstimateStatus.DRAFT else None,
    )
    revision = EstimateRevision.objects.create(
        estimate=estimate,
        province=customer.company.province,
        valid_until=timezone.localdate() + dt.timedelta(days=valid_days),
        terms=TERMS,
        notes="Parking in the driveway, please.",
        deposit_kind=DepositKind.PERCENT,
        deposit_value=Decimal(deposit_percent),
        sent_at=now if status != EstimateStatus.DRAFT else None,
    )
    for position, spec in enumerate(lines or ESTIMATE_LINES):
        _line(position, spec, revision=revision)
    totals = revision_totals(revision)
    revision.subtotal, revision.tax_total, revision.total = (
        totals.subtotal,
        totals.tax_total,
        totals.total,
    )
    revision.save()
    estimate.current_revision = revision
    estimate.save()
    return estimate


@transaction.atomic
def make_invoice(customer: Customer, *, status: str = InvoiceStatus.SENT) -> Invoice:
    today = timezone.localdate()
    invoice = Invoice.objects.create(
        company=customer.company,
        customer=customer,
        number=next_number(company=customer.company, kind=DocumentKind.INVOICE),
        status=status,
        province=customer.company.province,
        issue_date=today,
        due_date=today + dt.timedelta(days=15),
        sent_at=timezone.now() if status != InvoiceStatus.DRAFT else None,
        terms_text="Payable within 15 days.",
    )
    for position, spec in enumerate(INVOICE_LINES):
        _line(position, spec, invoice=invoice)
    totals = invoice_totals(invoice)
    invoice.subtotal, invoice.tax_total, invoice.total = (
        totals.subtotal,
        totals.tax_total,
        totals.total,
    )
    invoice.save()
    return invoice


def issue(customer: Customer, document=None, **kwargs) -> services.IssuedLink:
    return services.link_create(
        customer=customer, document=document, actor=Actor.system(), **kwargs
    )


def sign(estimate: Estimate, issued: services.IssuedLink, name: str = "Alice Tremblay"):
    return services.estimate_accept(
        estimate=estimate,
        link=issued.link,
        revision_number=estimate.current_revision.number,
        selection=Selection(),
        signature=services.SignatureIn(
            signer_name=name,
            method="typed",
            image_svg=typed_svg(name),
            consent_text=str(CONSENT_TEXT),
        ),
        ip="203.0.113.9",
        user_agent="pytest",
    )


def strokes(points: int = 40) -> str:
    """A plausible pen stroke: a wave across a 300x150 canvas."""
    import math

    flat = []
    for i in range(points):
        flat += [10 + i * 6, 75 + 40 * math.sin(i / 4)]
    return json.dumps({"w": 300, "h": 150, "strokes": [flat, [20, 20, 60, 30, 100, 25]]})


def accept_data(estimate: Estimate, **overrides) -> dict:
    data = {
        "revision": str(estimate.current_revision.number),
        "signer_name": "Alice Tremblay",
        "method": "typed",
        "strokes": "",
        "consent": "on",
    }
    data.update(overrides)
    return data
