"""Payment reads (``billing.selectors``) as the pages, messages and payments use them: written
for the mutants the page tests left alive (``scripts/mutation selectors``)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from billing.selectors import payment_link
from crewcommand.lib.activity import Actor
from portal.services import link_create

pytestmark = pytest.mark.django_db


def test_the_payment_link_in_a_message_opens_the_pay_page_of_its_document(
    settings, customer, invoice, signed_estimate, connected
):
    """``{payment_link}`` in an SMS or email: the site's address, then the pay page of the
    invoice, of the estimate's deposit, or of the link's own document."""
    settings.SITE_URL = "https://crew.example"
    token = link_create(customer=customer, actor=Actor.system()).token
    site = "https://crew.example"
    assert payment_link(token=token, document=invoice) == site + reverse(
        "portal:pay_invoice", args=[token, invoice.public_id]
    )
    assert payment_link(token=token, document=signed_estimate) == site + reverse(
        "portal:pay_deposit", args=[token, signed_estimate.public_id]
    )
    assert payment_link(token=token) == site + reverse("portal:pay", args=[token])
    # And each opens the page it names for the customer.
    client = Client()
    for document in (invoice, signed_estimate):
        path = payment_link(token=token, document=document).removeprefix(settings.SITE_URL)
        assert client.get(path).status_code == 200, path
