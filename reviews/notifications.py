"""Review email: the request to the customer, with its link.

Put in the outbox in the transaction that sends it; the link (re-derived from the row by
``reviews.tokens``) is sealed at rest by the outbox, so the raw token is never readable in the
database, the broker, task arguments or logs.
"""

from __future__ import annotations

import logging

from crewcommand.lib.canada import display_phone
from crewcommand.models import MessageKind
from crewcommand.notifications import queue_email
from reviews.models import ReviewOptOut, ReviewRequest
from reviews.tokens import review_url

logger = logging.getLogger(__name__)


def queue_request_email(*, request: ReviewRequest) -> None:
    """The review request into the outbox, in the caller's transaction. It is a commercial
    message (CASL): the outbox blocks it, with the reason, without the customer's consent."""
    deliver_request_email(request_id=request.pk)


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
    context = {
        "company": company.name,
        "company_phone": display_phone(company.phone),
        "company_email": company.email,
        "customer": customer.name,
        "job": request.job.title if request.job else "",
        "url": review_url(nonce=request.token_nonce),
        "accent": company.brand_color,
    }
    queue_email(
        company=company,
        to=request.sent_to,
        template="review_request",
        context=context,
        customer=customer,
        concerning=request.job or request,
        kind=MessageKind.COMMERCIAL,
    )
    logger.info("review request email queued request=%s", request.public_id)
