from __future__ import annotations

import pytest
from django.test import Client

from crewcommand.models import Contact
from tests.portal.helpers import issue

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def estimate_link(estimate):
    return issue(estimate.customer, estimate)


@pytest.fixture
def invoice_link(invoice):
    return issue(invoice.customer, invoice)


@pytest.fixture
def customer_link(customer):
    return issue(customer)


@pytest.fixture
def phone():
    """A customer's phone: no session, no login, a mobile browser."""
    return Client(HTTP_USER_AGENT=PHONE_UA)


@pytest.fixture
def ben(customer):
    return Contact.objects.create(
        company=customer.company,
        customer=customer,
        name="Ben Tremblay",
        email="ben@example.com",
        phone="+14165550188",
        role="spouse",
    )
