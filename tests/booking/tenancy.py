"""Objects for the tenancy walk (tests/core/test_tenancy.py): a service request with a photo."""

from __future__ import annotations

from booking import services
from booking.models import RequestSource
from tests.booking.helpers import picture
from tests.urlwalk import EXTENSIONS


def _booking_for_tenancy(owner, customer, job):
    import io

    from booking.photos import normalise_photo

    request = services.request_submit(
        company=owner.company,
        data=services.RequestIn(
            name="Walk Visitor",
            phone="+14165550123",
            email="walk@example.com",
            address="1 Walk St",
            service="Other",
            description="",
            preferred=[],
            marketing_email=False,
            marketing_sms=False,
        ),
        photos=[normalise_photo(io.BytesIO(picture()))],
        source=RequestSource.BOOKING_PAGE,
    )
    return {"request_id": request.public_id, "photo_id": request.photos.get().public_id}


EXTENSIONS.append(_booking_for_tenancy)
