"""The public booking page /book/<slug>/: branded, no login, every field checked on the server,
photos checked by content, a confirmation page and emails, constant queries, plain 404s."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from booking.models import BookingSettings, RequestStatus, ServiceRequest
from booking.selectors import booking_url
from crewcommand.models import Activity
from tests.booking.helpers import picture, valid_post
from tests.factories import CompanyFactory, CustomerFactory, JobFactory

pytestmark = pytest.mark.django_db


def _url(company) -> str:
    return reverse("booking_public:book", args=[company.slug])


def test_the_public_page_has_a_description_for_search_results(client, company):
    # Lighthouse's SEO score (bench/lighthouse.py): the booking page is the one meant to be found.
    body = client.get(_url(company)).content.decode()
    assert f'<meta name="description" content="Tell {company.name} what you need.' in body
    assert 'name="robots"' not in body


def test_the_page_shows_the_company_its_services_and_days_without_login(client, company):
    BookingSettings.objects.create(
        company=company, services="Drain cleaning\nWater heater", open_days=[0, 1, 2, 3, 4]
    )
    response = client.get(_url(company))
    body = response.content.decode()
    assert response.status_code == 200
    assert company.name in body
    assert '<option value="Drain cleaning">' in body
    assert '<option value="other">' in body
    assert "Morning (8:00" in body and "Afternoon (12:00" in body
    # The consent boxes are separate and unticked.
    assert 'name="marketing_email"' in body and 'name="marketing_sms"' in body
    assert "checked" not in body.split('name="marketing_email"')[1].split(">")[0]
    assert response["Cache-Control"] == "no-store"


def test_unknown_and_turned_off_pages_are_a_plain_404(client, company):
    assert client.get("/book/no-such-company/").status_code == 404
    BookingSettings.objects.create(company=company, enabled=False)
    response = client.get(_url(company))
    assert response.status_code == 404
    assert company.name not in response.content.decode()
    assert client.post(_url(company), valid_post()).status_code == 404


def test_a_request_is_recorded_with_a_normalised_phone_and_confirmed_by_email_once(
    client, company, owner, django_capture_on_commit_callbacks
):
    company.email = "office@maple.example"
    company.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(company), valid_post(marketing_sms="on"))
    assert response.status_code == 302
    assert response["Location"] == reverse("booking_public:sent", args=[company.slug])
    request = ServiceRequest.objects.get()
    assert request.phone == "+14165550123"
    assert request.status == RequestStatus.NEW and request.customer is None
    assert request.marketing_sms and not request.marketing_email
    assert request.service == "Other"
    to_requester = [m for m in mail.outbox if m.to == ["sam@example.com"]]
    to_company = [m for m in mail.outbox if m.to == ["office@maple.example"]]
    assert len(to_requester) == 1 and len(to_company) == 1
    assert company.name in to_requester[0].subject
    assert "/app/requests/" + request.public_id in to_company[0].body
    assert Activity.objects.filter(verb="service_request.received").count() == 1
    # Running the task again sends nothing more (exactly once).
    from booking.notifications import deliver_request_emails

    deliver_request_emails(request_id=request.pk)
    assert len(mail.outbox) == 2
    page = client.get(response["Location"])
    assert "Your request is in" in page.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12", "area code"),
        ("email", "not-an-email", "valid email"),
        ("name", "", "required"),
        ("address", "", "required"),
        ("service", "Gold plating", "Select a valid choice"),
        ("first_date", "1999-01-01", "Select a valid choice"),
        ("first_window", "midnight", "Select a valid choice"),
        ("description", "", "Tell us what you need"),
        ("description", "x\x00y", "Null characters"),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_stored(
    client, company, field, value, message
):
    response = client.post(_url(company), valid_post(**{field: value}))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="field-error"' in body and message in body
    assert not ServiceRequest.objects.exists()


def test_html_typed_in_is_shown_as_text_never_rendered(client, company, owner_client):
    client.post(_url(company), valid_post(name="<script>alert(1)</script>", description="<b>x</b>"))
    request = ServiceRequest.objects.get()
    body = owner_client.get(reverse("booking:request_detail", args=[request.public_id])).content
    assert b"<script>alert(1)</script>" not in body and b"&lt;script&gt;" in body
    assert b"<b>x</b>" not in body


def test_the_honeypot_answers_like_a_success_and_stores_nothing(client, company):
    response = client.post(_url(company), valid_post(website="http://spam.example"))
    assert response.status_code == 302
    assert not ServiceRequest.objects.exists()


def test_photos_are_checked_by_content_and_stored_without_metadata(client, company, media):
    upload = SimpleUploadedFile("house.txt", picture("PNG"), content_type="text/plain")
    with_exif = SimpleUploadedFile(
        "leak.jpg", picture("JPEG", exif=True), content_type="image/jpeg"
    )
    response = client.post(_url(company), {**valid_post(), "photos": [upload, with_exif]})
    assert response.status_code == 302
    request = ServiceRequest.objects.get()
    photos = list(request.photos.all())
    assert len(photos) == 2
    for photo in photos:
        with photo.file.open("rb") as handle:
            data = handle.read()
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG"
        assert not image.getexif() and b"SecretCam" not in data


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.jpg", b"GIF89a not really"),
        ("photo.png", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>"),
        ("photo.jpg", picture("JPEG")[:200]),  # truncated
        ("photo.bmp", picture("BMP")),  # a real picture, but not a format we keep
    ],
)
def test_uploads_that_are_not_photos_are_refused(client, company, name, content):
    upload = SimpleUploadedFile(name, content, content_type="image/jpeg")
    response = client.post(_url(company), {**valid_post(), "photos": upload})
    assert response.status_code == 200
    assert "is not a photo" in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_too_many_photos_are_refused(client, company):
    uploads = [SimpleUploadedFile(f"p{i}.jpg", picture()) for i in range(6)]
    response = client.post(_url(company), {**valid_post(), "photos": uploads})
    assert "at most 5 photos" in response.content.decode()
    assert not ServiceRequest.objects.exists()


def _grow(company, n: int) -> None:
    for i in range(n):
        customer = CustomerFactory(company=company, name=f"Customer {i}")
        JobFactory(customer=customer, title=f"Job {i}")
        ServiceRequest.objects.create(
            company=company, source="booking_page", name=f"R{i}", address="x", service="Other"
        )


def test_the_page_runs_the_same_queries_for_a_small_and_a_large_company(
    client, django_assert_num_queries
):
    small, large = CompanyFactory(slug="small"), CompanyFactory(slug="large")
    BookingSettings.objects.create(company=large, services="A\nB\nC")
    _grow(small, 1)
    _grow(large, 40)
    counts = []
    for company in (small, large):
        with django_assert_num_queries(1) as captured:
            assert client.get(_url(company)).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts == [1, 1]


def test_the_booking_link_comes_from_site_url_never_the_host_header(
    settings, company, owner_client
):
    settings.SITE_URL = "https://crewcommand.example"
    settings.ALLOWED_HOSTS = ["*"]
    assert booking_url(company) == "https://crewcommand.example/book/maple/"
    body = owner_client.get(reverse("dashboard:settings"), HTTP_HOST="evil.example").content
    assert b"https://crewcommand.example/book/maple/" in body
    assert b"evil.example/book" not in body


def test_a_request_that_is_not_recorded_leaves_no_photo_behind(company, outsider, media):
    from booking import services
    from booking.photos import normalise_photo
    from crewcommand.errors import ServiceError

    data = services.RequestIn(
        name="Sam",
        phone="+14165550123",
        email="",
        address="1 Main St",
        service="x" * 500,  # longer than the column: the model refuses it
        description="",
        preferred=[],
        marketing_email=False,
        marketing_sms=False,
    )
    with pytest.raises(ServiceError):
        services.request_submit(
            company=company, data=data, photos=[normalise_photo(io.BytesIO(picture()))]
        )
    assert not ServiceRequest.objects.exists()
    assert not [p for p in media.rglob("*") if p.is_file()]
