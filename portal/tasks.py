"""Portal background tasks. Thin: ids and JSON values in, one function called."""

from __future__ import annotations

from celery import shared_task

from portal import notifications


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_portal_link_email(*, link_id: int, sealed_url: str, sealed_note: str = "") -> None:
    notifications.deliver_link_email(
        link_id=link_id, sealed_url=sealed_url, sealed_note=sealed_note
    )


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_company_email(*, company_id: int, template: str, context: dict[str, str]) -> None:
    notifications.deliver_company_email(company_id=company_id, template=template, context=context)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_fresh_link(*, link_id: int | None, sealed_contact: str) -> None:
    """A visitor asked for a fresh link from a dead one; send it if the contact matches."""
    from crewcommand.lib.sealed import SealError, unseal
    from portal.models import PortalLink
    from portal.services import fresh_link_request

    if link_id is None:
        return
    try:
        contact = unseal(sealed_contact, notifications.SEALED_URL_MAX_AGE)
    except SealError:
        return
    link = PortalLink.objects.select_related("company", "customer").filter(pk=link_id).first()
    fresh_link_request(link=link, contact=contact)


@shared_task
def flush_link_views(*, link_id: int) -> None:
    """Write a link's views gathered in the cache (``portal.visits``)."""
    from portal import visits

    visits.flush(link_id=link_id)


@shared_task
def document_viewed(*, kind: str, document_id: int, link_id: int, at: str) -> None:
    """The customer opened a sent document at ``at``: mark it viewed (once)."""
    import datetime as dt

    from documents.models import Estimate, Invoice
    from portal.models import PortalLink
    from portal.services import document_mark_viewed

    model = Estimate if kind == "estimate" else Invoice
    document = model.objects.filter(pk=document_id).first()
    link = PortalLink.objects.select_related("company", "customer").filter(pk=link_id).first()
    if document is None or link is None:
        return
    document_mark_viewed(document=document, link=link, at=dt.datetime.fromisoformat(at))
