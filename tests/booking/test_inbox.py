"""The dashboard's inbox of service requests: the sidebar badge, converting into a job (and a
customer when new, matched by email or phone, chosen when several match), dismissing with a
reason, the activity it leaves, and the owner's booking settings."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from booking import services
from booking.models import BookingSettings, RequestStatus, ServiceRequest
from crewcommand.models import Activity, Customer, Job, Role
from tests.factories import CustomerFactory, MemberFactory

pytestmark = pytest.mark.django_db


def _request(company, **fields) -> ServiceRequest:
    data = {
        "name": "Sam Visitor",
        "phone": "+14165550123",
        "email": "sam@example.com",
        "address": "12 Elm St, Toronto",
        "service": "Drain cleaning",
        "description": "Slow drain",
        "preferred": [{"date": "2026-12-02", "window": "morning"}],
        "marketing_email": True,
        "marketing_sms": False,
        **fields,
    }
    return services.request_submit(company=company, data=services.RequestIn(**data))


def test_new_requests_show_in_the_inbox_with_a_badge_in_the_sidebar(owner_client, company):
    _request(company)
    _request(company, name="Other Person")
    body = owner_client.get(reverse("dashboard:home")).content.decode()
    assert 'class="nav-badge">2<' in body
    inbox = owner_client.get(reverse("booking:inbox")).content.decode()
    assert "Sam Visitor" in inbox and "Other Person" in inbox
    assert (
        "Wednesday"
        in owner_client.get(
            reverse("booking:request_detail", args=[ServiceRequest.objects.first().public_id])
        ).content.decode()
    )


def test_the_badge_and_inbox_show_only_the_own_company(outsider_client, company):
    _request(company)
    body = outsider_client.get(reverse("booking:inbox")).content.decode()
    assert "Sam Visitor" not in body and "nav-badge" not in body


def test_converting_a_stranger_makes_a_customer_with_their_consent_and_a_job(owner_client, company):
    request = _request(company)
    url = reverse("booking:request_convert", args=[request.public_id])
    response = owner_client.post(url, {"customer": "new", "title": "Unclog drain"})
    job = Job.objects.get(title="Unclog drain")
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    customer = job.customer
    assert (customer.name, customer.email, customer.phone) == (
        "Sam Visitor",
        "sam@example.com",
        "+14165550123",
    )
    assert customer.marketing_consent_at is not None
    assert "email" in customer.marketing_consent_source
    request.refresh_from_db()
    assert request.status == RequestStatus.CONVERTED and request.job == job
    verbs = set(Activity.objects.values_list("verb", flat=True))
    assert {"service_request.converted", "customer.created", "job.created"} <= verbs
    # Converting twice is refused, without a second job.
    again = owner_client.post(url, {"customer": "new", "title": "Again"}, follow=True)
    assert "already been handled" in again.content.decode()
    assert Job.objects.count() == 1


def test_one_matching_customer_is_offered_and_used(owner_client, company):
    existing = CustomerFactory(company=company, name="Sam V.", email="SAM@example.com")
    request = _request(company)
    page = owner_client.get(reverse("booking:request_detail", args=[request.public_id]))
    assert existing.public_id in page.content.decode()
    owner_client.post(
        reverse("booking:request_convert", args=[request.public_id]),
        {"customer": existing.public_id, "title": "Drain"},
    )
    assert Job.objects.get().customer == existing
    assert Customer.objects.count() == 1


def test_several_matches_let_the_contractor_choose(owner_client, company):
    by_email = CustomerFactory(company=company, name="By Email", email="sam@example.com")
    by_phone = CustomerFactory(company=company, name="By Phone", phone="+14165550123")
    CustomerFactory(company=company, name="Unrelated", phone="+14165559999")
    request = _request(company)
    body = owner_client.get(
        reverse("booking:request_detail", args=[request.public_id])
    ).content.decode()
    assert "Several customers" in body
    assert by_email.public_id in body and by_phone.public_id in body
    assert "Unrelated" not in body
    owner_client.post(
        reverse("booking:request_convert", args=[request.public_id]),
        {"customer": by_phone.public_id, "title": "Drain"},
    )
    assert Job.objects.get().customer == by_phone


def test_another_company_customer_cannot_be_chosen(owner_client, company, outsider):
    foreign = CustomerFactory(company=outsider.company, email="sam@example.com")
    request = _request(company)
    response = owner_client.post(
        reverse("booking:request_convert", args=[request.public_id]),
        {"customer": foreign.public_id, "title": "Drain"},
    )
    assert response.status_code == 200 and 'class="field-error"' in response.content.decode()
    assert not Job.objects.exists()


def test_dismissing_needs_a_reason_and_is_recorded(owner_client, company):
    request = _request(company)
    url = reverse("booking:request_dismiss", args=[request.public_id])
    assert 'class="field-error"' in owner_client.post(url, {"reason": ""}).content.decode()
    response = owner_client.post(url, {"reason": "Outside our area"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.DISMISSED
    assert request.dismiss_reason == "Outside our area"
    row = Activity.objects.get(verb="service_request.dismissed")
    assert "Outside our area" in row.description
    assert (
        "Sam Visitor"
        in owner_client.get(reverse("booking:inbox") + "?status=dismissed").content.decode()
    )


def test_a_technician_can_convert_but_not_change_booking_settings(company):
    technician = MemberFactory(company=company, role=Role.TECHNICIAN)
    client = Client()
    client.force_login(technician.user)
    request = _request(company)
    response = client.post(
        reverse("booking:request_convert", args=[request.public_id]),
        {"customer": "new", "title": "Drain"},
    )
    assert response.status_code == 302
    assert client.get(reverse("booking:page_settings")).status_code == 403


def test_the_owner_sets_services_and_hours_and_the_page_follows(owner_client, client, company):
    response = owner_client.post(
        reverse("booking:page_settings"),
        {
            "enabled": "on",
            "intro": "Since 1998",
            "services": "Drain cleaning\n\nDrain cleaning\nFurnace",
            "open_days": ["5", "6"],
            "opens_at": "13:00",
            "closes_at": "18:00",
        },
    )
    assert response.status_code == 302
    row = BookingSettings.objects.get(company=company)
    assert row.service_list == ["Drain cleaning", "Furnace"]
    page = client.get(reverse("booking_public:book", args=[company.slug])).content.decode()
    assert "Since 1998" in page and "Furnace" in page
    assert "Morning (" not in page and "Afternoon (13:00" in page
    assert "Saturday" in page and "Monday" not in page.split('id="id_first_date"')[1][:2000]


def test_closing_before_opening_is_refused(owner_client, company):
    response = owner_client.post(
        reverse("booking:page_settings"),
        {"enabled": "on", "open_days": ["0"], "opens_at": "17:00", "closes_at": "08:00"},
    )
    assert 'class="field-error"' in response.content.decode()
    assert not BookingSettings.objects.exists()


def test_the_settings_page_links_to_the_booking_settings(owner_client):
    body = owner_client.get(reverse("dashboard:settings")).content.decode()
    assert reverse("booking:page_settings") in body
