"""The automations dashboard: list, on/off, the editor (bad input: a clear message, nothing
saved), the preview for a real customer, roles and tenancy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automations.models import Automation

pytestmark = pytest.mark.django_db


def _form(automation: Automation, **changes) -> dict:
    data = {
        "name": automation.name,
        "enabled": "on" if automation.enabled else "",
        "trigger": automation.trigger,
        "wait": automation.wait,
        "wait_unit": automation.wait_unit,
        "channel": automation.channel,
        "recipient": automation.recipient,
        "kind": automation.kind,
        "subject": automation.subject,
        "body": automation.body,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def _invoice_sms(company) -> Automation:
    return Automation.objects.get(company=company, key="invoice_sent_sms")


def test_list_shows_every_automation_with_switches_for_owners(
    owner_client, company, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = owner_client.get(reverse("automations:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Invoice sent (SMS)" in html
    assert html.count(">Turn off<") == Automation.objects.filter(company=company).count()


def test_office_sees_but_cannot_change(office_client, company):
    automation = _invoice_sms(company)
    html = office_client.get(reverse("automations:list")).content.decode()
    assert "Invoice sent (SMS)" in html and "Turn off" not in html
    page = office_client.get(reverse("automations:detail", args=[automation.public_id]))
    assert "Only owners can change automations." in page.content.decode()
    refused = office_client.post(
        reverse("automations:save", args=[automation.public_id]), _form(automation, name="X")
    )
    assert refused.status_code == 403
    refused = office_client.post(
        reverse("automations:toggle", args=[automation.public_id]), {"enabled": "0"}
    )
    assert refused.status_code == 403
    automation.refresh_from_db()
    assert automation.name == "Invoice sent (SMS)" and automation.enabled


def test_owner_turns_an_automation_off_and_on(owner_client, company):
    automation = _invoice_sms(company)
    url = reverse("automations:toggle", args=[automation.public_id])
    assert owner_client.post(url, {"enabled": "0"}).status_code == 302
    automation.refresh_from_db()
    assert not automation.enabled
    owner_client.post(url, {"enabled": "1"})
    automation.refresh_from_db()
    assert automation.enabled


def test_unknown_variable_is_refused_with_the_valid_list_and_nothing_saved(owner_client, company):
    automation = _invoice_sms(company)
    response = owner_client.post(
        reverse("automations:save", args=[automation.public_id]),
        _form(automation, body="Hi {first_name}, pay {payment_link}"),
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Unknown variable {first_name}" in html
    assert "{booking_link}" in html
    automation.refresh_from_db()
    assert "{first_name}" not in automation.body


def test_a_variable_without_a_value_for_the_trigger_is_refused(owner_client, company):
    automation = _invoice_sms(company)
    response = owner_client.post(
        reverse("automations:save", args=[automation.public_id]),
        _form(automation, trigger="job_completed", wait=2),
    )
    assert "has no value for" in response.content.decode()
    automation.refresh_from_db()
    assert automation.trigger == "invoice_sent"


def test_a_timed_trigger_needs_its_n(owner_client, company):
    automation = Automation.objects.get(company=company, key="invoice_overdue_3")
    response = owner_client.post(
        reverse("automations:save", args=[automation.public_id]), _form(automation, wait=0)
    )
    assert "Say how long" in response.content.decode()
    automation.refresh_from_db()
    assert automation.wait == 3


def test_owner_saves_a_change(owner_client, company):
    automation = _invoice_sms(company)
    response = owner_client.post(
        reverse("automations:save", args=[automation.public_id]),
        _form(automation, body="Invoice {document_number}: {payment_link}", wait=1),
    )
    assert response.status_code == 302
    automation.refresh_from_db()
    assert automation.body == "Invoice {document_number}: {payment_link}"
    assert automation.offset.total_seconds() == 3600


def test_owner_creates_an_automation(owner_client, company):
    response = owner_client.post(
        reverse("automations:new"),
        {
            "name": "Thanks",
            "enabled": "on",
            "trigger": "estimate_accepted",
            "wait": 0,
            "wait_unit": "hours",
            "channel": "email",
            "recipient": "customer",
            "kind": "transactional",
            "subject": "Thanks, {customer_name}",
            "body": "We got your signature on {document_number}.",
        },
    )
    assert response.status_code == 302
    assert Automation.objects.filter(company=company, name="Thanks", key="").exists()


def test_preview_renders_for_a_real_customer_and_writes_nothing(owner_client, company, invoice):
    from portal.models import PortalLink

    automation = _invoice_sms(company)
    links = PortalLink.objects.count()
    response = owner_client.post(
        reverse("automations:preview"),
        {**_form(automation), "preview_customer": invoice.customer.public_id},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="preview"' in html and "<html" not in html
    assert invoice.customer.name in html
    assert invoice.display_number in html
    assert "$1,356.00" in html
    assert "SMS part" in html and "GSM-7" in html
    assert PortalLink.objects.count() == links


def test_preview_of_a_bad_template_says_to_fix_the_form(owner_client, company, customer):
    automation = _invoice_sms(company)
    response = owner_client.post(
        reverse("automations:preview"),
        _form(automation, body="{nope}"),
        headers={"HX-Request": "true"},
    )
    assert "Fix the fields" in response.content.decode()


def test_another_companys_automation_is_a_404(outsider_client, company):
    automation = _invoice_sms(company)
    for name in ("detail",):
        assert (
            outsider_client.get(
                reverse(f"automations:{name}", args=[automation.public_id])
            ).status_code
            == 404
        )
    response = outsider_client.post(
        reverse("automations:toggle", args=[automation.public_id]), {"enabled": "0"}
    )
    assert response.status_code == 404
    automation.refresh_from_db()
    assert automation.enabled


def test_a_secret_link_cannot_wait_longer_than_the_outbox_keeps_it(owner_client, company):
    automation = Automation.objects.get(company=company, key="review_request")
    response = owner_client.post(
        reverse("automations:save", args=[automation.public_id]),
        _form(automation, wait=120, wait_unit="days"),
    )
    assert "at most 90 days" in response.content.decode()
    automation.refresh_from_db()
    assert automation.wait == 2
