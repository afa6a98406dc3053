"""The public booking page follows the browser's language; the request keeps it: the
confirmation email is in it, and so is the customer made from the request."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from booking import services
from booking.models import ServiceRequest
from tests.booking.helpers import valid_post

pytestmark = pytest.mark.django_db


def _url(company) -> str:
    return reverse("booking_public:book", args=[company.slug])


def test_a_french_browser_gets_the_page_the_email_and_the_customer_in_french(
    client, company, owner, django_capture_on_commit_callbacks
):
    page = client.get(_url(company), HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9,en;q=0.5")
    body = page.content.decode()
    assert page["Content-Language"] == "fr-ca" and "Accept-Language" in page["Vary"]
    assert '<html lang="fr-ca">' in body and "Envoyer la demande" in body
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _url(company),
            valid_post(),
            HTTP_ACCEPT_LANGUAGE="fr-CA",
        )
    assert response.status_code == 302
    request = ServiceRequest.objects.get()
    assert request.language == "fr-ca"
    (email,) = [m for m in mail.outbox if m.to == ["sam@example.com"]]
    assert email.subject == f"{company.name} a reçu votre demande"
    assert "Merci de votre demande." in email.body
    # The company's notice stays English.
    notices = [m for m in mail.outbox if m.to != ["sam@example.com"]]
    assert notices and all("request" in m.subject.lower() for m in notices)
    job = services.request_convert(request=request, member=owner, customer=None, title="Visite")
    assert job.customer.language == "fr-ca"


def test_an_english_browser_gets_english(client, company):
    page = client.get(_url(company), HTTP_ACCEPT_LANGUAGE="en-CA,en")
    assert page["Content-Language"] == "en-ca" and "Send request" in page.content.decode()
