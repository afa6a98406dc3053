"""The settings page shows the booking page as a full address to copy; the dashboard's sidebar
carries the whole business name in a title (the browser test checks the wrapping)."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_booking_page_is_a_full_address_with_a_copy_button(owner_client, settings):
    settings.SITE_URL = "https://crewcommand.example"
    body = owner_client.get(reverse("dashboard:settings")).content.decode()
    assert '<code id="booking-url">https://crewcommand.example/book/maple/</code>' in body
    assert 'data-copy="https://crewcommand.example/book/maple/"' in body
    assert "Your public booking page: /book/" not in body


def test_the_sidebar_has_the_whole_business_name_in_a_title(owner_client, company):
    company.name = "Plomberie Côté et Fils — Chauffage, climatisation et réfrigération inc."
    company.save()
    body = owner_client.get(reverse("dashboard:home")).content.decode()
    assert body.count(f'title="{company.name}"') == 2  # the top bar's and the sidebar's
