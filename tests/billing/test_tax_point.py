"""The tax point across a rate change: a deposit paid before Nova Scotia's HST went from 15 % to
14 % on 2025-04-01 keeps its share of the tax at 15 %; the rest of an invoice dated after the
change is taxed at 14 %. The issue's example, both sides of the date, on the dashboard, the
portal and the PDF.

Expected figures are written out by hand from the README's rule, not computed by project code:
estimate $1,000.00 + HST 15 % = $1,150.00, deposit 25 % = $287.50 paid 2025-03-28, so the
deposit covers 287.50 / 1,150.00 = 1/4 of the document: HST 15 % on $250.00 = $37.50 and
HST 14 % on the other $750.00 = $105.00; total $1,142.50, balance $1,142.50 - $287.50 = $855.00.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from billing import services as billing
from billing.models import Payment, PaymentMethod, PaymentPurpose, PaymentStatus
from crewcommand.lib.activity import Actor
from documents import pdf
from documents import services as documents
from documents.models import DepositKind, Estimate, Invoice
from documents.totals import invoice_totals
from tests.factories import PaymentFactory, SignedEstimateFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

SIGNED = dt.date(2025, 3, 28)
HALIFAX = ZoneInfo("America/Halifax")


@pytest.fixture
def ns(company):
    company.province = "NS"
    company.timezone = "America/Halifax"
    company.save()
    return company


def signed_ns_estimate(customer) -> Estimate:
    """$1,000.00 of work dated 2025-03-28 in Nova Scotia (HST 15 %), 25 % deposit, signed."""
    estimate = SignedEstimateFactory(
        customer=customer,
        lines=({"description": "Deck", "unit_price": "1000.00"},),
        revision={
            "issue_date": SIGNED,
            "valid_until": dt.date(2099, 12, 31),  # still open to sign today
            "deposit_kind": DepositKind.PERCENT,
            "deposit_value": Decimal("25"),
        },
    )
    assert estimate.accepted_revision.total == Decimal("1150.00")
    return estimate


def pay_deposit(estimate: Estimate, on: dt.date) -> Payment:
    return PaymentFactory(
        estimate=estimate, amount="287.50", method=PaymentMethod.ETRANSFER, received_on=on
    )


def convert_on(estimate: Estimate, day: dt.date) -> Invoice:
    """Convert, then date the invoice ``day`` (the draft's date is editable)."""
    invoice = billing.estimate_convert(estimate=estimate, actor=Actor.system())
    documents.invoice_update(invoice=invoice, actor=Actor.system(), fields={"issue_date": day})
    return Invoice.objects.get(pk=invoice.pk)


def figures(invoice: Invoice) -> dict:
    totals = invoice_totals(invoice)
    return {
        "taxes": [(t.code, str(t.rate), str(t.base), str(t.amount)) for t in totals.taxes],
        "total": str(invoice.total),
        "deposit": str(invoice.deposit_credit),
        "balance": str(invoice.balance),
    }


def test_the_issues_example_deposit_before_the_change_invoice_after(ns, customer):
    estimate = signed_ns_estimate(customer)
    pay_deposit(estimate, SIGNED)
    invoice = convert_on(estimate, dt.date(2025, 4, 2))
    assert invoice.prepaid_amount == Decimal("287.50") and invoice.prepaid_on == SIGNED
    assert figures(invoice) == {
        "taxes": [
            ("HST", "15.000", "250.00", "37.50"),
            ("HST", "14.000", "750.00", "105.00"),
        ],
        "total": "1142.50",
        "deposit": "287.50",
        "balance": "855.00",
    }
    assert invoice.subtotal == Decimal("1000.00") and invoice.tax_total == Decimal("142.50")


def test_converted_on_the_last_day_at_15_percent_nothing_is_split(ns, customer):
    estimate = signed_ns_estimate(customer)
    pay_deposit(estimate, SIGNED)
    invoice = convert_on(estimate, dt.date(2025, 3, 31))
    assert figures(invoice) == {
        "taxes": [("HST", "15.000", "1000.00", "150.00")],
        "total": "1150.00",
        "deposit": "287.50",
        "balance": "862.50",
    }


def test_a_deposit_paid_on_the_first_day_at_14_percent_is_credited_at_face_value(ns, customer):
    estimate = signed_ns_estimate(customer)
    pay_deposit(estimate, dt.date(2025, 4, 1))
    invoice = convert_on(estimate, dt.date(2025, 4, 2))
    assert invoice.prepaid_on == dt.date(2025, 4, 1)  # the same 14 % as the invoice: no split
    assert figures(invoice) == {
        "taxes": [("HST", "14.000", "1000.00", "140.00")],
        "total": "1140.00",
        "deposit": "287.50",
        "balance": "852.50",
    }


def test_a_card_deposit_counts_on_the_companys_local_day(ns, customer):
    """Paid by card at 23:30 in Halifax on 2025-03-31: already 2025-04-01 in UTC, still the
    15 % day where the company is."""
    estimate = signed_ns_estimate(customer)
    moment = dt.datetime(2025, 3, 31, 23, 30, tzinfo=HALIFAX)
    Payment.objects.create(
        company=estimate.company,
        customer=customer,
        estimate=estimate,
        purpose=PaymentPurpose.DEPOSIT,
        method=PaymentMethod.CARD,
        status=PaymentStatus.SUCCEEDED,
        applied=True,
        amount=Decimal("287.50"),
        succeeded_at=moment,
        finished_at=moment,
    )
    assert moment.astimezone(dt.UTC).date() == dt.date(2025, 4, 1)
    invoice = convert_on(estimate, dt.date(2025, 4, 2))
    assert invoice.prepaid_on == dt.date(2025, 3, 31)
    assert figures(invoice)["total"] == "1142.50"


def test_the_split_shows_on_the_dashboard_portal_and_pdf(ns, customer, owner_client):
    estimate = signed_ns_estimate(customer)
    pay_deposit(estimate, SIGNED)
    invoice = convert_on(estimate, dt.date(2025, 4, 2))

    page = owner_client.get(invoice.get_absolute_url()).content.decode()
    assert "HST 15%" in page and "on $250.00 covered by the deposit paid 28 Mar 2025" in page
    assert "HST 14%" in page and "on the other $750.00" in page
    assert "$37.50" in page and "$105.00" in page and "$1,142.50" in page and "$855.00" in page

    documents.invoice_send(invoice=invoice, actor=Actor.system())
    invoice.refresh_from_db()
    link = issue(customer, invoice)
    body = Client().get(reverse("portal:invoice", args=[link.token, invoice.public_id]))
    body = body.content.decode()
    assert "on $250.00 covered by the deposit paid 28 Mar 2025" in body
    assert "on the other $750.00" in body and "$855.00" in body

    data = pdf.render_invoice_pdf(invoice=invoice)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    text = " ".join(text.split())
    assert "HST 15% on $250.00 covered by the deposit paid 28 Mar 2025 $37.50" in text
    assert "HST 14% on the other $750.00 $105.00" in text
    assert "$1,142.50" in text and "$855.00" in text


def test_the_invoice_made_today_is_split_at_once(ns, customer):
    """Converted today (14 %), with no later edit: the stored totals already carry the split."""
    estimate = signed_ns_estimate(customer)
    pay_deposit(estimate, SIGNED)
    made = billing.estimate_convert(estimate=estimate, actor=Actor.system())
    assert (made.total, made.deposit_credit, made.balance) == (
        Decimal("1142.50"),
        Decimal("287.50"),
        Decimal("855.00"),
    )
    stored = Invoice.objects.get(pk=made.pk)
    assert (stored.tax_total, stored.total, stored.balance) == (
        Decimal("142.50"),
        Decimal("1142.50"),
        Decimal("855.00"),
    )
