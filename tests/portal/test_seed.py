"""seed_demo prints working portal links (``portal: <url>``) and replaces them on every run."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from crewcommand.lib.activity import Actor
from documents.models import (
    OPEN_INVOICE_STATUSES,
    Estimate,
    EstimateRevision,
    EstimateStatus,
    InvoiceStatus,
)
from portal.models import LinkChannel, PortalLink

pytestmark = pytest.mark.django_db


def _path(line: str) -> str:
    return "/" + line.split("://", 1)[1].split("/", 1)[1]


def _portal_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("portal:")]


def test_seed_demo_prints_links_to_an_estimate_and_an_invoice(capsys):
    call_command("seed_demo", allow_production=True)  # tests run with DEBUG off
    lines = _portal_lines(capsys)
    assert len(lines) == 2
    kinds = []
    for line in lines:
        path = re.fullmatch(r"portal: https?://[^/]+(/p/[A-Za-z0-9_-]{43}/)", line).group(1)
        response = Client().get(path, follow=True)
        assert response.status_code == 200
        kinds.append(response.redirect_chain[-1][0].split("/")[3])
    assert sorted(kinds) == ["estimates", "invoices"]
    estimate_page = Client().get(_path(lines[0]), follow=True)
    assert b'name="signer_name"' in estimate_page.content  # the demo estimate can be signed

    call_command("seed_demo", allow_production=True)  # tests run with DEBUG off
    again = _portal_lines(capsys)
    assert len(again) == 2 and set(again).isdisjoint(lines)
    demo = PortalLink.objects.filter(channel=LinkChannel.DEMO)
    assert demo.count() == 4 and demo.filter(revoked_at=None).count() == 2
    for line in lines:  # the old links stop working
        assert Client().get(_path(line)).status_code == 404


def _linked_documents():
    links = PortalLink.objects.filter(channel=LinkChannel.DEMO, revoked_at=None)
    estimate = links.exclude(estimate=None).select_related("estimate").get().estimate
    invoice = links.exclude(invoice=None).select_related("invoice").get().invoice
    return estimate, invoice


def _assert_actionable(capsys):
    """The printed links open an estimate that can be signed and an invoice left to pay."""
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("portal:")]
    assert len(lines) == 2
    estimate, invoice = _linked_documents()
    assert f"{estimate.display_number} for {estimate.customer.name}, ready to sign:" in out
    assert f"{invoice.display_number} for {invoice.customer.name}, $" in out
    assert estimate.display_status in {EstimateStatus.SENT, EstimateStatus.VIEWED}
    assert invoice.status in OPEN_INVOICE_STATUSES and invoice.balance > 0
    estimate_page = Client().get(_path(lines[0]), follow=True)
    assert b'name="signer_name"' in estimate_page.content
    invoice_page = Client().get(_path(lines[1]), follow=True).content.decode()
    assert invoice.display_number in invoice_page and "portal-paid-mark" not in invoice_page
    return estimate, invoice


def test_every_run_links_to_an_open_estimate_and_an_unpaid_invoice(capsys):
    """Run, sign the estimate and pay the invoice (as someone trying the demo would), run
    again: the new links lead to things still to do, never to the paid invoice."""
    from billing.services.manual import payment_record

    call_command("seed_demo", allow_production=True)  # tests run with DEBUG off
    first_estimate, first_invoice = _assert_actionable(capsys)

    Estimate.objects.filter(pk=first_estimate.pk).update(status=EstimateStatus.ACCEPTED)
    payment_record(
        actor=Actor.system(),
        amount=first_invoice.balance,
        method="cheque",
        received_on=timezone.localdate(),
        invoice=first_invoice,
    )
    first_invoice.refresh_from_db()
    assert first_invoice.status == InvoiceStatus.PAID

    call_command("seed_demo", allow_production=True)
    second_estimate, second_invoice = _assert_actionable(capsys)
    assert second_estimate.pk != first_estimate.pk
    assert second_invoice.pk != first_invoice.pk

    # An estimate past its "valid until" date can't be signed either: the next run skips it.
    EstimateRevision.objects.filter(pk=second_estimate.current_revision_id).update(
        valid_until=timezone.localdate() - dt.timedelta(days=1)
    )
    call_command("seed_demo", allow_production=True)
    third_estimate, third_invoice = _assert_actionable(capsys)
    assert third_estimate.pk not in {first_estimate.pk, second_estimate.pk}
    assert third_invoice.pk == second_invoice.pk  # still unpaid, so still the one to pay
