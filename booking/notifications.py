"""Booking's outgoing mail: a confirmation to the requester (when they gave an email) and a
notice to the company, for each new request. Sent from a Celery task after commit; each is
claimed with a conditional update first and put in the outbox in the request's transaction, so
a request gets exactly one of each. (A confirmation by SMS waits for the automations' messaging path.)"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from booking.models import ServiceRequest, Window
from crewcommand.lib.canada import display_phone
from crewcommand.notifications import company_recipients, queue_email

logger = logging.getLogger(__name__)


def send_request_emails(*, request: ServiceRequest) -> None:
    """Both emails into the outbox, in the request's transaction (each claimed once)."""
    deliver_request_emails(request_id=request.pk)


def _preferred_text(request: ServiceRequest) -> str:
    parts = []
    for entry in request.preferred or []:
        try:
            day = date_format(dt.date.fromisoformat(entry["date"]), "l, F j")
        except (KeyError, TypeError, ValueError):
            continue
        window = entry.get("window", Window.ANY)
        label = Window(window).label if window in Window.values else Window.ANY.label
        parts.append(f"{day} ({str(label).lower()})")
    return "; ".join(parts)


def request_context(request: ServiceRequest) -> dict[str, str]:
    company = request.company
    when = timezone.localtime(request.created_at, timezone=ZoneInfo(company.timezone))
    return {
        "company": company.name,
        "company_email": company.email,
        "company_phone": display_phone(company.phone),
        "accent": company.brand_color,
        "name": request.name,
        "phone": display_phone(request.phone),
        "email": request.email,
        "address": request.address,
        "service": request.service,
        "description": request.description,
        "preferred": _preferred_text(request),
        "photos": str(request.photos.count()) if request.pk else "0",
        "date": when.strftime("%Y-%m-%d %H:%M"),
        "inbox_url": settings.SITE_URL
        + reverse("booking:request_detail", args=[request.public_id]),
    }


def _claim(request_id: int, field: str) -> bool:
    return (
        ServiceRequest.objects.filter(pk=request_id, **{f"{field}__isnull": True}).update(
            **{field: timezone.now()}
        )
        == 1
    )


def _unclaim(request_id: int, field: str) -> None:
    ServiceRequest.objects.filter(pk=request_id).update(**{field: None})


def _send_once(
    request: ServiceRequest,
    *,
    field: str,
    recipients: list[str],
    template: str,
    context: dict[str, str],
    from_name: str = "",
) -> None:
    if not recipients:
        return
    with transaction.atomic():
        if not _claim(request.pk, field):
            return
        for recipient in recipients:
            queue_email(
                company=request.company,
                to=recipient,
                template=template,
                context=context,
                customer=request.customer if field == "requester_notified_at" else None,
                concerning=request,
            )
    logger.info("%s queued request=%s", template, request.public_id)


def deliver_request_emails(*, request_id: int) -> None:
    request = ServiceRequest.objects.select_related("company").get(pk=request_id)
    context = request_context(request)
    if request.email:
        _send_once(
            request,
            field="requester_notified_at",
            recipients=[request.email],
            template="booking_received",
            context=context,
            from_name=request.company.name,
        )
    _send_once(
        request,
        field="company_notified_at",
        recipients=company_recipients(request.company),
        template="booking_new_request",
        context=context,
    )
