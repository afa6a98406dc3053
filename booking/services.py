"""State changes for booking: a request arrives (public page or portal), is converted into a
job (and a customer when new) or dismissed; a company's booking settings change.

Each function is keyword-only, runs in one transaction and writes an activity row.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from booking import notifications
from booking.models import (
    BookingSettings,
    RequestSource,
    RequestStatus,
    ServiceRequest,
    ServiceRequestPhoto,
)
from crewcommand import services as core
from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.models import Company, Customer, Job, Language, Member


@dataclass(frozen=True)
class RequestIn:
    name: str
    phone: str
    email: str
    address: str
    service: str
    description: str
    preferred: list[dict[str, str]]
    marketing_email: bool
    marketing_sms: bool
    language: str = Language.ENGLISH


def _store_photo(company: Company, content: bytes) -> str:
    name = f"booking/{company.public_id}/{secrets.token_urlsafe(18)}.jpg"
    return default_storage.save(name, ContentFile(content))


def request_submit(
    *,
    company: Company,
    data: RequestIn,
    photos: Sequence[tuple[bytes, int, int]] = (),
    source: str = RequestSource.BOOKING_PAGE,
    customer: Customer | None = None,
    ip: str | None = None,
    user_agent: str = "",
) -> ServiceRequest:
    """Record a request for service and, after commit, email the requester a confirmation and
    the company a notice (each exactly once, ``booking.notifications``). Photos are stored
    with the request; if the request is not recorded, they are deleted again."""
    stored: list[str] = []
    try:
        return _request_submit(company, data, photos, source, customer, ip, user_agent, stored)
    except ValidationError as error:
        _forget(stored)
        raise ServiceError(
            _("Please check the request: %(problem)s") % {"problem": error}
        ) from None
    except BaseException:
        _forget(stored)
        raise


def _forget(stored: list[str]) -> None:
    for name in stored:
        default_storage.delete(name)


@transaction.atomic
def _request_submit(
    company: Company,
    data: RequestIn,
    photos: Sequence[tuple[bytes, int, int]],
    source: str,
    customer: Customer | None,
    ip: str | None,
    user_agent: str,
    stored: list[str],
) -> ServiceRequest:
    if customer is not None and customer.company_id != company.pk:
        raise ServiceError(_("That customer is not in this company."))
    request = ServiceRequest(
        company=company,
        source=source,
        customer=customer,
        name=data.name,
        phone=data.phone,
        email=data.email,
        address=data.address,
        service=data.service,
        description=data.description,
        preferred=data.preferred,
        marketing_email=data.marketing_email,
        marketing_sms=data.marketing_sms,
        ip=ip,
        user_agent=user_agent[:300],
        language=data.language,
    )
    request.full_clean()
    request.save()
    for content, width, height in photos:
        stored.append(_store_photo(company, content))
        ServiceRequestPhoto.objects.create(
            request=request, file=stored[-1], width=width, height=height
        )
    activity.record(
        company=company,
        verb="service_request.received",
        actor=Actor.customer(data.name),
        target=request,
        customer=customer,
        data={"name": data.name, "service": data.service},
    )
    notifications.send_request_emails(request=request)
    return request


def _lock_open(request: ServiceRequest) -> ServiceRequest:
    locked = ServiceRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != RequestStatus.NEW:
        raise ServiceError(_("This request has already been handled."))
    return locked


def _consent_source(request: ServiceRequest) -> str:
    channels = [
        c for c, yes in (("email", request.marketing_email), ("SMS", request.marketing_sms)) if yes
    ]
    when = timezone.localdate().isoformat()
    return f"{RequestSource(request.source).label} {when}: {', '.join(channels)}"[:200]


@transaction.atomic
def request_convert(
    *,
    request: ServiceRequest,
    member: Member,
    customer: Customer | None,
    title: str,
) -> Job:
    """Make a job from an open request: for ``customer``, or for a new customer made from the
    request when None. The requester's marketing consent, if given, is recorded on the
    customer (never removed). Refuses a request already converted or dismissed."""
    request = _lock_open(request)
    actor = Actor.member(member.user)
    company = member.company
    if request.company_id != company.pk:
        raise ServiceError(_("That request is not in your company."))
    if customer is not None and customer.company_id != company.pk:
        raise ServiceError(_("That customer is not in your company."))
    if customer is None:
        customer = core.customer_create(
            company=company,
            actor=actor,
            name=request.name,
            email=request.email,
            phone=request.phone,
            address_line1=request.address[:200],
            language=request.language,
        )
    if (request.marketing_email or request.marketing_sms) and not customer.marketing_consent_at:
        core.customer_update(
            customer=customer,
            actor=actor,
            fields={
                "marketing_consent_at": request.created_at,
                "marketing_consent_source": _consent_source(request),
            },
        )
    job = core.job_create(
        company=company,
        customer=customer,
        actor=actor,
        title=title,
        description=_job_description(request),
        address=request.address,
    )
    request.status = RequestStatus.CONVERTED
    request.customer = customer
    request.job = job
    request.handled_by = member
    request.handled_at = timezone.now()
    request.save(
        update_fields=["status", "customer", "job", "handled_by", "handled_at", "updated_at"]
    )
    activity.record(
        company=company,
        verb="service_request.converted",
        actor=actor,
        target=request,
        customer=customer,
        data={"name": request.name, "title": job.title},
    )
    return job


def _job_description(request: ServiceRequest) -> str:
    lines = [request.description.strip()] if request.description.strip() else []
    if request.preferred_times:
        wanted = "; ".join(
            f"{date_format(day, 'D M j')}, {window.lower()}"
            for day, window in request.preferred_times
        )
        lines.append(_("Preferred: %(times)s") % {"times": wanted})
    return "\n\n".join(lines)[:10000]


@transaction.atomic
def request_dismiss(*, request: ServiceRequest, member: Member, reason: str) -> ServiceRequest:
    request = _lock_open(request)
    if request.company_id != member.company_id:
        raise ServiceError(_("That request is not in your company."))
    request.status = RequestStatus.DISMISSED
    request.dismiss_reason = reason[:300]
    request.handled_by = member
    request.handled_at = timezone.now()
    request.save(
        update_fields=["status", "dismiss_reason", "handled_by", "handled_at", "updated_at"]
    )
    activity.record(
        company=request.company,
        verb="service_request.dismissed",
        actor=Actor.member(member.user),
        target=request,
        customer=request.customer,
        data={"name": request.name, "reason": request.dismiss_reason},
    )
    return request


@transaction.atomic
def settings_update(*, company: Company, member: Member, fields: dict[str, Any]) -> BookingSettings:
    row, _created = BookingSettings.objects.select_for_update().get_or_create(company=company)
    for name, value in fields.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    activity.record(
        company=company,
        verb="booking.settings_updated",
        actor=Actor.member(member.user),
        target=row,
    )
    return row
