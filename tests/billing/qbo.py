"""QuickBooks test helpers: settings aimed at the fake, connecting through the real views
(intuit-oauth against the fake's OAuth server), and extra Canadian tax codes in a fake company."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from billing.quickbooks.models import QuickBooksConnection
from tests.billing.qbo_codes import (  # noqa: F401 (re-exported)
    TOKEN_KEY,
    add_canadian_codes,
    quickbooks_env,
)
from tests.fakes.quickbooks_server import CLIENT_ID, CLIENT_SECRET, QuickBooksFake


@pytest.fixture
def qbo_on(settings, fake_quickbooks: QuickBooksFake) -> QuickBooksFake:
    settings.QUICKBOOKS_CLIENT_ID = CLIENT_ID
    settings.QUICKBOOKS_CLIENT_SECRET = CLIENT_SECRET
    settings.QUICKBOOKS_ENABLED = True
    settings.QUICKBOOKS_DISCOVERY_URL = fake_quickbooks.discovery_url
    settings.QUICKBOOKS_API_BASE = fake_quickbooks.api_url_v3
    settings.QUICKBOOKS_TOKEN_KEYS = [TOKEN_KEY]
    settings.QUICKBOOKS_TOKEN_SECRET = ""
    return fake_quickbooks


def connect(client: Client, fake: QuickBooksFake, realm: str | None = None) -> QuickBooksConnection:
    """Press Connect, let the fake consent page answer, and come back to the callback."""
    fake.consent_realm = realm
    response = client.post(reverse("quickbooks:connect"))
    assert response.status_code == 302, response.content[:500]
    consent = requests.get(response["Location"], allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["Location"])
    response = client.get(f"{back.path}?{back.query}")
    assert response.status_code == 302
    return QuickBooksConnection.objects.get()
