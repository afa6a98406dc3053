"""Demo data for booking (``manage.py seed_demo`` calls ``demo_seed``): the demo company's
booking settings and one new request in the inbox, so the demo shows both. Idempotent."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from booking.models import BookingSettings, RequestSource, RequestStatus, ServiceRequest, Window
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.models import Company

DEMO_SERVICES = [
    "Water heater repair or replacement",
    "Furnace or boiler service",
    "Leak or burst pipe",
    "Drain cleaning",
    "Bathroom or kitchen plumbing",
    "Sump pump",
]


def demo_seed(*, company: Company, stdout=None) -> None:
    BookingSettings.objects.update_or_create(
        company=company,
        defaults={
            "enabled": True,
            "services": "\n".join(DEMO_SERVICES),
            "open_days": [0, 1, 2, 3, 4, 5],
            "opens_at": dt.time(8),
            "closes_at": dt.time(17),
            "intro": "Licensed plumbers and HVAC technicians serving Toronto since 1998.",
        },
    )
    if not ServiceRequest.objects.filter(company=company, name="Jordan Singh").exists():
        day = timezone.localdate() + dt.timedelta(days=2)
        while day.weekday() > 4:
            day += dt.timedelta(days=1)
        request = ServiceRequest.objects.create(
            company=company,
            source=RequestSource.BOOKING_PAGE,
            status=RequestStatus.NEW,
            name="Jordan Singh",
            phone="+14165550199",
            email="jordan.singh@example.com",
            address="58 Roncesvalles Ave, Toronto, ON M6R 2K3",
            service="Leak or burst pipe",
            description="Water dripping from the basement ceiling under the bathroom since "
            "last night. I turned off the valve under the sink.",
            preferred=[{"date": day.isoformat(), "window": Window.MORNING}],
            marketing_email=True,
            requester_notified_at=timezone.now(),
            company_notified_at=timezone.now(),
        )
        activity.record(
            company=company,
            verb="service_request.received",
            actor=Actor.customer(request.name),
            target=request,
            data={"name": request.name, "service": request.service},
        )
    if stdout is not None:
        from booking.selectors import booking_url

        stdout.write(f"booking page: {booking_url(company)}")
