"""From the portal: "Request service" on the home page, a form prefilled with the customer and
their addresses, and a request tied to that customer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from booking.models import RequestSource, ServiceRequest
from tests.factories import JobFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(customer):
    customer.phone = "+15145550123"
    customer.email = "alice@example.com"
    customer.address_line1 = "5 Rue Principale"
    customer.city = "Gatineau"
    customer.save()
    JobFactory(customer=customer, title="Cottage", address="99 Lake Rd, Wakefield")
    return issue(customer)


def test_the_portal_home_offers_request_service(client, link):
    body = client.get(link.path).content.decode()
    token = link.path.rstrip("/").rsplit("/", 1)[1]
    assert "Request service" in body
    assert reverse("booking_portal:request", args=[token]) in body


def test_the_form_is_prefilled_with_the_customer_and_their_addresses(client, link, customer):
    body = client.get(link.path + "request/").content.decode()
    assert 'value="Alice Tremblay"' in body
    assert 'value="(514) 555-0123"' in body
    assert 'value="alice@example.com"' in body
    assert customer.address in body and "99 Lake Rd, Wakefield" in body
    assert 'name="website"' not in body


def test_a_request_from_the_portal_is_tied_to_the_customer(client, link, customer):
    response = client.post(
        link.path + "request/",
        {
            "name": "Alice Tremblay",
            "phone": "514 555 0123",
            "email": "alice@example.com",
            "address_choice": "1",
            "service": "other",
            "description": "Open the cottage water",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/request/sent/")
    request = ServiceRequest.objects.get()
    assert request.customer == customer and request.source == RequestSource.PORTAL
    assert request.address == "99 Lake Rd, Wakefield"
    assert "Thanks" in client.get(response["Location"]).content.decode()


def test_another_address_must_be_typed(client, link):
    response = client.post(
        link.path + "request/",
        {
            "name": "A",
            "phone": "514 555 0123",
            "address_choice": "other",
            "service": "other",
            "description": "x",
        },
    )
    assert 'class="field-error"' in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_a_revoked_link_opens_no_request_form(client, customer):
    from crewcommand.lib.activity import Actor
    from portal import services

    issued = issue(customer)
    services.link_revoke(link=issued.link, actor=Actor.system())
    assert client.get(issued.path + "request/").status_code == 404
