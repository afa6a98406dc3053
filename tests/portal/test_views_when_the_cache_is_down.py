"""When the cache cannot be reached, a customer's view is written directly
(``portal.visits.note_view`` falls back to ``portal.services.link_record_view``): the page is
served and the view is counted, never dropped. The cache here is the production backend
(``ForgivingRedisCache``) pointed at a port where nothing listens: a real refused connection."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.models import PortalLink
from tests.factories import InvoiceFactory
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "crewcommand.lib.cache.ForgivingRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }


def test_views_are_written_directly_while_the_cache_is_down(customer, cache_down, caplog):
    invoice = InvoiceFactory(customer=customer)
    link = issue(customer).link
    issued = issue(customer)
    before = timezone.now()
    phone = Client(HTTP_USER_AGENT=PHONE)
    response = phone.get(reverse("portal:home", args=[issued.token]))
    assert response.status_code == 200
    after_first = timezone.now()
    row = PortalLink.objects.get(pk=issued.link.pk)
    assert row.view_count == 1
    assert before <= row.first_viewed_at == row.last_viewed_at <= after_first
    assert row.last_device == "phone"
    assert "portal view counted directly: cache unavailable" in caplog.text

    desktop = Client(HTTP_USER_AGENT=DESKTOP)
    response = desktop.get(reverse("portal:invoice", args=[issued.token, invoice.public_id]))
    assert response.status_code == 200
    row = PortalLink.objects.get(pk=issued.link.pk)
    assert row.view_count == 2
    assert row.first_viewed_at <= after_first < row.last_viewed_at <= timezone.now()
    assert row.last_device == "desktop"
    # Only the link viewed is counted.
    assert PortalLink.objects.get(pk=link.pk).view_count == 0


def test_a_view_written_directly_never_moves_the_last_time_back(customer, cache_down):
    issued = issue(customer)
    later = timezone.now() + dt.timedelta(hours=1)
    PortalLink.objects.filter(pk=issued.link.pk).update(
        view_count=4, first_viewed_at=later, last_viewed_at=later
    )
    Client(HTTP_USER_AGENT=PHONE).get(reverse("portal:home", args=[issued.token]))
    row = PortalLink.objects.get(pk=issued.link.pk)
    assert row.view_count == 5
    assert row.last_viewed_at == later  # a flush from the future stays the last
    assert row.first_viewed_at < later  # this view came first
