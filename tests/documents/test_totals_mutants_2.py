"""Survivors of ``documents.totals.invoice_totals``: when an invoice's stored deposit tax point
(``prepaid_amount`` / ``prepaid_on``, set by ``billing.services.manual._set_deposit_tax_point``)
splits its tax. Nova Scotia's HST went from 15 % to 14 % on 2025-04-01; a deposit paid before
that keeps its share of the tax at 15 % (tests/billing/test_tax_point.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from documents.models import Invoice
from documents.totals import invoice_totals
from tests.billing.test_services_mutants_3 import (
    SIGNED,
    convert_on,
    ns_estimate,  # noqa: F401 - the fixture
)
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

AFTER_THE_CHANGE = dt.date(2025, 4, 2)


def hst_lines(invoice: Invoice) -> list[tuple[Decimal, Decimal, Decimal, dt.date | None]]:
    return [(t.rate, t.base, t.amount, t.prepaid_on) for t in invoice_totals(invoice).taxes]


# Answers x_invoice_totals__mutmut_10 (`prepaid_amount > 1`): a $1.00 deposit is a deposit.
# $1,000.00 of work, estimate dated 2025-03-28: total then = 1,000.00 + 15 % = $1,150.00.
# $1.00 paid 2025-03-28 covers 1,000.00 x 1.00 / 1,150.00 = 0.8696 -> $0.87 of the base:
#   HST 15 % on $0.87    = 0.1305  -> $0.13
#   HST 14 % on $999.13  = 139.8782 -> $139.88
#   tax $140.01, total $1,140.01 (without the split: 14 % on $1,000.00 = $140.00, $1,140.00).
def test_a_one_dollar_deposit_before_the_rate_change_keeps_its_cent_of_hst_at_15_percent(
    ns_estimate,  # noqa: F811
):
    PaymentFactory(estimate=ns_estimate, amount="1.00", method="etransfer", received_on=SIGNED)
    invoice = convert_on(ns_estimate, AFTER_THE_CHANGE)
    assert (invoice.prepaid_amount, invoice.prepaid_on) == (Decimal("1.00"), SIGNED)
    assert hst_lines(invoice) == [
        (Decimal("15.000"), Decimal("0.87"), Decimal("0.13"), SIGNED),
        (Decimal("14.000"), Decimal("999.13"), Decimal("139.88"), None),
    ]
    totals = invoice_totals(invoice)
    assert (totals.tax_total, totals.total) == (Decimal("140.01"), Decimal("1140.01"))
    assert invoice.total == Decimal("1140.01")


# Answers x_invoice_totals__mutmut_7 (`prepaid_on is not None or prepaid_amount > 0`). Billing
# never stores an amount without its day, and the Django admin shows both fields read-only
# (until the eighth session it let staff clear the day); a row written otherwise (a data fix in
# SQL) is no tax point, and the invoice (its page, PDF and portal all call invoice_totals) is
# taxed at the rate of its own date:
# 14 % on $1,000.00 = $140.00, total $1,140.00 — not a crash.
def test_a_deposit_amount_without_its_day_is_no_tax_point(ns_estimate):  # noqa: F811
    PaymentFactory(estimate=ns_estimate, amount="287.50", method="etransfer", received_on=SIGNED)
    invoice = convert_on(ns_estimate, AFTER_THE_CHANGE)
    Invoice.objects.filter(pk=invoice.pk).update(prepaid_on=None)  # a day cleared outside billing
    invoice.refresh_from_db()
    assert (invoice.prepaid_amount, invoice.prepaid_on) == (Decimal("287.50"), None)
    assert hst_lines(invoice) == [(Decimal("14.000"), Decimal("1000.00"), Decimal("140.00"), None)]
    assert invoice_totals(invoice).total == Decimal("1140.00")


# The Django admin shows an invoice's deposit tax point but does not let staff change it: a
# changed amount or day would tax the invoice differently from the totals stored with it.
def test_the_admin_shows_the_deposit_tax_point_read_only(ns_estimate, admin_client):  # noqa: F811
    PaymentFactory(estimate=ns_estimate, amount="287.50", method="etransfer", received_on=SIGNED)
    invoice = convert_on(ns_estimate, AFTER_THE_CHANGE)
    page = admin_client.get(f"/admin/documents/invoice/{invoice.pk}/change/").content.decode()
    assert 'name="prepaid_amount"' not in page
    assert 'name="prepaid_on"' not in page
    assert "287.50" in page
