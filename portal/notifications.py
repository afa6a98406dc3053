"""Portal email: the link to the customer, and the customer's answers to the contractor.

Each message is queued after commit by a Celery task that takes ids and JSON values only. A link
email carries the link's URL *sealed* (``crewcommand.lib.sealed``): the raw token is never
readable in the broker, in task arguments shown by monitoring tools, or in logs.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format

from crewcommand.lib.canada import display_phone
from crewcommand.lib.money import format_cad
from crewcommand.lib.sealed import SealError, seal, unseal
from crewcommand.models import Company
from crewcommand.notifications import company_recipients, deliver_email
from portal.models import PortalLink

logger = logging.getLogger(__name__)

# A queued link email must go out within this time; retries back off far less than this.
SEALED_URL_MAX_AGE = 3 * 86400


def queue_link_email(*, link: PortalLink, url: str) -> None:
    from portal.tasks import send_portal_link_email

    send_portal_link_email.delay_on_commit(link_id=link.pk, sealed_url=seal(url))


def deliver_link_email(*, link_id: int, sealed_url: str) -> None:
    link = (
        PortalLink.objects.select_related(
            "company", "customer", "estimate__current_revision", "invoice"
        )
        .filter(pk=link_id)
        .first()
    )
    if link is None or not link.is_usable() or not link.sent_to:
        logger.info("portal link email skipped link=%s", link_id)
        return
    try:
        url = unseal(sealed_url, SEALED_URL_MAX_AGE)
    except SealError:
        logger.warning("portal link email dropped: sealed URL rejected link=%s", link_id)
        return
    company = link.company
    document = link.document
    context = {
        "company": company.name,
        "company_phone": display_phone(company.phone),
        "company_email": company.email,
        "customer": link.customer.name,
        "document": document.display_number if document else "",
        "kind": "estimate" if link.estimate_id else "invoice" if link.invoice_id else "",
        "url": url,
        "expires": date_format(timezone.localtime(link.expires_at), "DATE_FORMAT")
        if link.expires_at
        else "",
        "accent": company.brand_color,
        **_document_context(link),
    }
    deliver_email(
        to=link.sent_to,
        from_name=company.name,
        template="portal_link",
        context=context,
        company=company,
    )
    logger.info("portal link email sent link=%s", link.reference)


def _document_context(link: PortalLink) -> dict[str, str]:
    """What the link email says of its document: that an estimate is a new version (revised
    since it was first sent), and an invoice's amount due and due date (with a Pay button)."""
    if link.estimate_id:
        revision = link.estimate.current_revision
        if revision is not None and revision.number > 1:
            return {"version": str(revision.number)}
    elif link.invoice_id:
        invoice = link.invoice
        balance = invoice.balance
        if balance > 0:
            return {
                "amount_due": format_cad(balance),
                "due": date_format(invoice.due_date, "DATE_FORMAT") if invoice.due_date else "",
            }
    return {}


def queue_company_email(*, company: Company, template: str, context: dict[str, str]) -> None:
    from portal.tasks import send_company_email

    send_company_email.delay_on_commit(company_id=company.pk, template=template, context=context)


def deliver_company_email(*, company_id: int, template: str, context: dict[str, str]) -> None:
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return
    for address in company_recipients(company):
        deliver_email(
            to=address,
            template=template,
            context={**context, "company": company.name, "accent": company.brand_color},
            company=company,
        )


def dashboard_url(path: str) -> str:
    return settings.SITE_URL + path
