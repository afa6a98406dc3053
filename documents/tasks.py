"""Background work for documents. Thin: take ids, call one function."""

from __future__ import annotations

from celery import shared_task

from documents import pdf
from documents.models import Estimate, Invoice


@shared_task(ignore_result=True)
def warm_pdf(*, kind: str, pk: int) -> None:
    """Render a just-sent document's PDF into the cache, so the customer's first download is
    instant instead of waiting for WeasyPrint."""
    if kind == "estimate":
        estimate = Estimate.objects.select_related("company", "customer", "job").get(pk=pk)
        pdf.render_estimate_pdf(estimate=estimate)
    else:
        invoice = Invoice.objects.select_related("company", "customer", "job").get(pk=pk)
        pdf.render_invoice_pdf(invoice=invoice)
