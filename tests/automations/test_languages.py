"""Automations in the customer's language, by the customer's preferred channel, with one link
per Send (issue 16 point 4; issue 14's preferred channel and "a second link for the SMS").

Texts go through the outbox and the real twilio SDK to the fake Twilio; emails through
Django's mail API (``mail.outbox``)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from automations import services
from automations.defaults import DEFAULTS, FRENCH
from automations.models import Automation, AutomationRun
from crewcommand.lib import variables
from crewcommand.models import Message, MessageStatus
from portal.models import PortalLink
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+/p/([A-Za-z0-9_-]+)/")


@pytest.fixture
def twilio(settings, fake_twilio, company):
    settings.TWILIO_ACCOUNT_SID = fake_twilio.account_sid
    settings.TWILIO_AUTH_TOKEN = fake_twilio.auth_token
    settings.TWILIO_ENABLED = True
    settings.TWILIO_API_BASE = fake_twilio.url
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    company.quiet_hours_start = company.quiet_hours_end  # no quiet hours in these tests
    company.save()
    return fake_twilio


def _only(company, *keys):
    Automation.objects.filter(company=company).exclude(key__in=keys).update(enabled=False)
    return [Automation.objects.get(company=company, key=key) for key in keys]


def _send(owner_client, invoice, capture):
    url = reverse("documents:invoice_action", args=[invoice.public_id, "send"])
    stamp = re.search(
        r'name="last_sent" value="([^"]*)"', owner_client.get(url).content.decode()
    ).group(1)
    with capture(execute=True):
        response = owner_client.post(url, {"last_sent": stamp, "note": ""})
    assert response.status_code in (200, 302)


def _overdue(customer, job):
    return InvoiceFactory(
        customer=customer, job=job, issue_date=dt.date(2026, 1, 1), terms="receipt"
    )


def _speak(customer, language, channel="both"):
    customer.language = language
    customer.preferred_channel = channel
    customer.save(update_fields=["language", "preferred_channel"])


# --- Language ----------------------------------------------------------------------------------


def test_every_default_has_quebec_french_with_the_same_variables():
    for default in DEFAULTS:
        french = FRENCH[str(default["key"])]
        assert set(re.findall(r"\{\w+\}", french["body_fr"])) == set(
            re.findall(r"\{\w+\}", str(default["body"]))
        )
        assert bool(french.get("subject_fr")) == bool(default.get("subject"))
        text = " ".join(french.values()).lower()
        assert " tu " not in text and " ton " not in text and " ta " not in text  # vous only
        assert "e-mail" not in text and "estimation" not in text  # courriel, soumission


def test_a_french_customer_gets_the_french_sms_and_email(
    twilio, company, customer, job, django_capture_on_commit_callbacks
):
    _only(company, "invoice_overdue_10")
    _speak(customer, "fr-ca")
    invoice = _overdue(customer, job)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.scan_due() == 1

    [sms] = twilio.sent_to("+14165550199")
    assert sms["body"].startswith(f"Bonjour {customer.name}, la facture {invoice.display_number}")
    assert "(1 356,00 $) est maintenant en retard de 10 jours" in sms["body"]  # plain spaces
    assert int(sms["num_segments"]) == 2  # GSM-7: 153 characters a part
    [email] = [m for m in mail.outbox if m.to == [customer.email]]
    assert email.subject == f"La facture {invoice.display_number} est en retard de 10 jours"
    assert "(1\xa0356,00\xa0$)" in email.body  # no-break spaces in an email
    assert "Veuillez la payer ici : http" in email.body
    # The pay link in both works.
    token = LINK.search(sms["body"]).group(1)
    assert token in email.body
    assert Client().get(f"/p/{token}/", follow=True).status_code == 200
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 2


def test_dates_in_french_messages_are_written_the_canadian_french_way(
    company, customer, job, django_capture_on_commit_callbacks
):
    (overdue,) = _only(company, "invoice_overdue_3")
    _speak(customer, "fr-ca", "email")
    invoice = _overdue(customer, job)
    with django_capture_on_commit_callbacks(execute=True):
        services.scan_due()
    [email] = [m for m in mail.outbox if m.to == [customer.email]]
    assert "(1\xa0356,00\xa0$) était due le 1 janvier 2026." in email.body
    assert email.subject == f"La facture {invoice.display_number} est en retard"

    reminder = Automation.objects.get(company=company, key="job_reminder_24h")
    job.scheduled_start = dt.datetime(2026, 11, 24, 19, 30, tzinfo=dt.UTC)  # 14 h 30 in Toronto
    subject = variables.Subject(company, customer, job=job, preview=True)
    [rendered] = services.render(reminder, subject)
    assert "le mardi 24 novembre à 14 h 30." in rendered.body
    assert overdue.enabled


def test_an_english_customer_gets_the_english_sms_and_email(
    twilio, company, customer, job, django_capture_on_commit_callbacks
):
    _only(company, "invoice_overdue_10")
    _speak(customer, "en-ca")
    invoice = _overdue(customer, job)
    with django_capture_on_commit_callbacks(execute=True):
        services.scan_due()
    [sms] = twilio.sent_to("+14165550199")
    assert sms["body"].startswith(f"Hi {customer.name}, invoice {invoice.display_number}")
    assert "($1,356.00) is now 10 days past due" in sms["body"]
    [email] = [m for m in mail.outbox if m.to == [customer.email]]
    assert email.subject == f"Invoice {invoice.display_number} is 10 days past due"


def test_a_customer_without_a_language_gets_the_company_default(company, customer, job):
    _only(company, "invoice_overdue_3")
    company.default_language = "fr-ca"
    company.save(update_fields=["default_language"])
    _speak(customer, "", "email")
    _overdue(customer, job)
    services.scan_due()
    assert Message.objects.get(channel="email").subject.startswith("La facture")


def test_without_a_french_message_a_french_customer_gets_the_english_one_and_the_run_says_so(
    twilio, company, customer, job, django_capture_on_commit_callbacks
):
    (automation,) = _only(company, "invoice_overdue_3")
    Automation.objects.filter(pk=automation.pk).update(body_fr="", subject_fr="")
    _speak(customer, "fr-ca", "sms")
    _overdue(customer, job)
    with django_capture_on_commit_callbacks(execute=True):
        services.scan_due()
    [sms] = twilio.sent_to("+14165550199")
    assert sms["body"].startswith(f"Hi {customer.name}, a friendly reminder")
    assert "($1,356.00)" in sms["body"]  # formatted like the text it sits in
    run = AutomationRun.objects.get()
    assert run.outcome == "queued" and "no French message, sent in English" in run.reason


def test_the_editor_warns_when_a_language_is_missing(owner_client, company, customer, invoice):
    automation = Automation.objects.get(company=company, key="invoice_sent_sms")
    url = reverse("automations:detail", args=[automation.public_id])
    page = owner_client.get(url).content.decode()
    assert "No French message" not in page
    assert 'id="id_body_fr"' in page and 'lang="fr-CA"' in page
    assert "facture" in page and "1 356,00 $ à payer" in page  # the French preview
    assert "$1,356.00" in page  # and the English one

    Automation.objects.filter(pk=automation.pk).update(body_fr="")
    page = owner_client.get(url).content.decode()
    assert "No French message: customers served in French will get the English one." in page
    listing = owner_client.get(reverse("automations:list")).content.decode()
    assert listing.count('data-missing="fr"') == 1

    # Live (htmx), as typed: the English one emptied instead.
    fields = {
        "name": "Invoice sent (SMS)",
        "enabled": "on",
        "trigger": "invoice_sent",
        "wait": "0",
        "wait_unit": "hours",
        "channel": "sms",
        "recipient": "customer",
        "kind": "transactional",
        "subject": "",
        "body": "",
        "subject_fr": "",
        "body_fr": "Facture {document_number} : {amount_due}",
    }
    fragment = owner_client.post(
        reverse("automations:preview"), fields, headers={"HX-Request": "true"}
    ).content.decode()
    assert "No English message" in fragment and "No French message" not in fragment
    assert "UCS-2" not in fragment or "SMS part" in fragment


def test_both_messages_are_validated_and_one_is_enough(owner_client, company):
    fields = {
        "name": "Bilingual",
        "enabled": "on",
        "trigger": "invoice_sent",
        "wait": "0",
        "wait_unit": "hours",
        "channel": "sms",
        "recipient": "customer",
        "kind": "transactional",
        "subject": "",
        "subject_fr": "",
    }
    new = reverse("automations:new")
    before = Automation.objects.count()
    page = owner_client.post(new, {**fields, "body": "Hi", "body_fr": "Bonjour {prenom}"})
    assert "Unknown variable {prenom}" in page.content.decode()
    page = owner_client.post(new, {**fields, "body": "", "body_fr": ""})
    assert "Write the message." in page.content.decode()
    page = owner_client.post(new, {**fields, "body": "", "body_fr": "Bonjour {job_date}"})
    assert "{job_date} has no value" in page.content.decode()
    assert Automation.objects.count() == before
    response = owner_client.post(new, {**fields, "body": "", "body_fr": "Bonjour {customer_name}"})
    assert response.status_code == 302
    made = Automation.objects.get(name="Bilingual")
    assert made.body == "" and made.body_fr == "Bonjour {customer_name}"
    assert made.missing_languages == ["en"]


# --- Preferred channel and one link per Send ------------------------------------------------------


def _tokens(text: str) -> set[str]:
    return set(LINK.findall(text))


def test_sending_to_a_customer_who_wants_both_texts_and_emails_one_link(
    twilio, owner_client, company, customer, job, django_capture_on_commit_callbacks
):
    _speak(customer, "en-ca", "both")
    invoice = InvoiceFactory(customer=customer, job=job, sent=False)
    _send(owner_client, invoice, django_capture_on_commit_callbacks)
    [sms] = twilio.sent_to("+14165550199")
    [email] = [m for m in mail.outbox if invoice.display_number in m.subject]
    # One link: the SMS's pay link and the email's link carry the same token.
    assert PortalLink.objects.filter(invoice=invoice).count() == 1
    assert _tokens(sms["body"]) == _tokens(email.body) and len(_tokens(email.body)) == 1
    link = PortalLink.objects.get(invoice=invoice)
    assert link.channel == "email" and link.sent_to == customer.email


def test_a_customer_who_prefers_texts_gets_the_link_by_text_only(
    twilio, owner_client, company, customer, job, django_capture_on_commit_callbacks
):
    _speak(customer, "fr-ca", "sms")
    invoice = InvoiceFactory(customer=customer, job=job, sent=False)
    _send(owner_client, invoice, django_capture_on_commit_callbacks)
    [sms] = twilio.sent_to("+14165550199")
    assert sms["body"].startswith("Maple Plumbing : facture")
    assert not [m for m in mail.outbox if invoice.display_number in m.subject]
    link = PortalLink.objects.get(invoice=invoice)
    assert link.channel == "sms" and link.sent_to == customer.phone
    token = _tokens(sms["body"]).pop()
    assert Client().get(f"/p/{token}/", follow=True).status_code == 200


def test_a_note_on_the_send_is_emailed_even_to_a_customer_who_prefers_texts(
    twilio, owner_client, company, customer, job, django_capture_on_commit_callbacks
):
    _speak(customer, "en-ca", "sms")
    invoice = InvoiceFactory(customer=customer, job=job, sent=False)
    url = reverse("documents:invoice_action", args=[invoice.public_id, "send"])
    stamp = re.search(
        r'name="last_sent" value="([^"]*)"', owner_client.get(url).content.decode()
    ).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url, {"last_sent": stamp, "note": "The gate code is 1234."})
    [sms] = twilio.sent_to("+14165550199")
    [email] = [m for m in mail.outbox if invoice.display_number in m.subject]
    assert "The gate code is 1234." in email.body
    assert _tokens(sms["body"]) == _tokens(email.body)  # still one link


def test_a_customer_who_prefers_texts_but_opted_out_still_gets_the_email(
    twilio, owner_client, company, customer, job, django_capture_on_commit_callbacks
):
    from crewcommand.messaging import consent

    _speak(customer, "en-ca", "sms")
    consent.opt_out_number(company=company, phone="+14165550199")  # replied STOP
    invoice = InvoiceFactory(customer=customer, job=job, sent=False)
    _send(owner_client, invoice, django_capture_on_commit_callbacks)
    assert twilio.sent_to("+14165550199") == []
    assert Message.objects.get(channel="sms").status == MessageStatus.BLOCKED  # opt-out wins
    assert len([m for m in mail.outbox if invoice.display_number in m.subject]) == 1


def test_a_customer_who_prefers_email_gets_no_text_on_send(
    twilio, owner_client, company, customer, job, django_capture_on_commit_callbacks
):
    _speak(customer, "en-ca", "email")
    invoice = InvoiceFactory(customer=customer, job=job, sent=False)
    _send(owner_client, invoice, django_capture_on_commit_callbacks)
    assert twilio.sent_to("+14165550199") == []
    assert not Message.objects.filter(channel="sms").exists()
    assert len([m for m in mail.outbox if invoice.display_number in m.subject]) == 1
    run = AutomationRun.objects.get(automation__key="invoice_sent_sms")
    assert run.outcome == "skipped" and "prefers email" in run.reason


def test_a_customer_who_prefers_email_without_an_address_is_texted(company, customer, job):
    _only(company, "invoice_sent_sms")
    _speak(customer, "en-ca", "email")
    customer.email = ""
    customer.save(update_fields=["email"])
    InvoiceFactory(customer=customer, job=job)
    assert Message.objects.get().channel == "sms"


@pytest.mark.parametrize(
    ("preferred", "channels"), [("sms", {"sms"}), ("email", {"email"}), ("both", {"sms", "email"})]
)
def test_reminders_go_by_the_preferred_channel(company, customer, preferred, channels):
    from crewcommand.models import JobStatus
    from tests.factories import JobFactory

    _only(company, "job_reminder_24h")
    _speak(customer, "en-ca", preferred)
    JobFactory(
        customer=customer,
        status=JobStatus.SCHEDULED,
        scheduled_start=timezone.now() + dt.timedelta(hours=20),
    )
    services.scan_due()
    assert set(Message.objects.values_list("channel", flat=True)) == channels


def test_preferred_channel_is_edited_on_the_customer_form_and_shown(owner_client, customer):
    url = reverse("dashboard:customer_edit", args=[customer.public_id])
    form = owner_client.get(url).content.decode()
    assert 'name="preferred_channel"' in form
    response = owner_client.post(
        url,
        {
            "name": customer.name,
            "email": customer.email,
            "phone": "416 555 0199",
            "preferred_channel": "sms",
            "language": "fr-ca",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.preferred_channel == "sms" and customer.language == "fr-ca"
    page = owner_client.get(customer.get_absolute_url()).content.decode()
    assert "Text (SMS)" in page and "French" in page
    bad = owner_client.post(url, {"name": customer.name, "preferred_channel": "fax"})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()
    customer.refresh_from_db()
    assert customer.preferred_channel == "sms"


def test_a_commercial_email_to_a_french_customer_has_its_footer_in_french(
    company, customer, django_capture_on_commit_callbacks
):
    from crewcommand import messaging
    from crewcommand.messaging import consent

    _speak(customer, "fr-ca", "email")
    consent.record_consent(customer=customer, channel="email", kind="express", source="form")
    with django_capture_on_commit_callbacks(execute=True):
        messaging.queue(
            company=company,
            channel="email",
            to=customer.email,
            subject="Promo",
            body="Bonjour!",
            customer=customer,
            kind="commercial",
        )
    [email] = mail.outbox
    assert "Se désabonner (en un clic) : http" in email.body
    # The one-click page is in French too, before and after.
    url = re.search(r"Se désabonner \(en un clic\) : (\S+)", email.body).group(1)
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    page = Client().get(path).content.decode()
    assert f"Vous désabonner des courriels de {company.name}" in page
    done = Client().post(path).content.decode()
    assert "ne vous enverra plus de courriels promotionnels" in done
    customer.refresh_from_db()
    assert customer.email_opted_out_at is not None
