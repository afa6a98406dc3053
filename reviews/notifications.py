"""Review email: the request to the customer, with its link.

Queued after commit by a task that takes the request's id only. The task re-derives the link
from the row (``reviews.tokens``), so the raw token never travels through the broker or sits in
task arguments and logs.
"""

from __future__ import annotations

import logging

from django.utils import translation

from crewcommand.lib.canada import display_phone
from crewcommand.models import Company, Customer, customer_language
from crewcommand.notifications import deliver_email
from reviews.models import ReviewOptOut, ReviewRequest
from reviews.tokens import review_url

logger = logging.getLogger(__name__)


def queue_request_email(*, request: ReviewRequest) -> None:
    from reviews.tasks import send_review_request_email

    send_review_request_email.delay_on_commit(request_id=request.pk)


def deliver_request_email(*, request_id: int) -> None:
    request = (
        ReviewRequest.objects.select_related("company", "customer", "job")
        .filter(pk=request_id)
        .first()
    )
    if request is None or not request.sent_to:
        logger.info("review request email skipped request=%s", request_id)
        return
    customer = request.customer
    if customer.email_opted_out_at or ReviewOptOut.objects.filter(customer=customer).exists():
        logger.info("review request email skipped (opted out) request=%s", request_id)
        return
    company = request.company
    with translation.override(customer_language(customer, company)):
        _deliver(request, customer, company)
    logger.info("review request email sent request=%s", request.public_id)


def _deliver(request: ReviewRequest, customer: Customer, company: Company) -> None:
    context = {
        "company": company.name,
        "company_phone": display_phone(company.phone),
        "company_email": company.email,
        "customer": customer.name,
        "job": request.job.title if request.job else "",
        "url": review_url(nonce=request.token_nonce),
        "accent": company.brand_color,
    }
    deliver_email(
        to=request.sent_to,
        from_name=company.name,
        template="review_request",
        context=context,
        company=company,
    )
