"""Sending a document to its customer: mark it sent, hand it to the portal, which makes a link
and emails it, and render its PDF in the background. Kept apart from ``documents.services`` because the portal builds on the
documents app, not the other way round."""

from __future__ import annotations

from django.db import transaction

from crewcommand.lib.activity import Actor
from documents import services
from documents.models import Estimate, Invoice
from documents.tasks import warm_pdf


@transaction.atomic
def estimate_deliver(*, estimate: Estimate, actor: Actor) -> Estimate:
    from portal.services import share_document

    estimate = services.estimate_send(estimate=estimate, actor=actor)
    share_document(document=estimate, actor=actor)
    warm_pdf.delay_on_commit(kind="estimate", pk=estimate.pk)
    return estimate


@transaction.atomic
def invoice_deliver(*, invoice: Invoice, actor: Actor) -> Invoice:
    from portal.services import share_document

    invoice = services.invoice_send(invoice=invoice, actor=actor)
    share_document(document=invoice, actor=actor)
    warm_pdf.delay_on_commit(kind="invoice", pk=invoice.pk)
    return invoice
