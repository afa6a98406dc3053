"""Portal link tokens are secrets stored only as hashes: after a customer pays, no table holds
one (Stripe echoes the return URLs it was given in every session and event), and payloads
stored before return URLs stopped carrying the token are redacted by a data migration."""

from __future__ import annotations

import importlib
import subprocess

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from billing.models import Payment, PaymentStatus, StripeEvent
from crewcommand.lib.activity import Actor
from documents.models import Invoice, InvoiceStatus
from portal.services import link_create
from tests.factories import InvoiceFactory

MIGRATION = "billing.migrations.0003_redact_portal_tokens_in_stored_payloads"


def database_dump() -> str:
    """Every row of every table of the test database, as pg_dump writes it."""
    db = connection.settings_dict
    command = ["pg_dump", "--data-only", "--no-owner", "-d", db["NAME"]]
    for flag, key in (("-h", "HOST"), ("-p", "PORT"), ("-U", "USER")):
        if db.get(key):
            command += [flag, str(db[key])]
    env = {"PGPASSWORD": db.get("PASSWORD") or ""}
    return subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_after_a_full_pay_journey_the_token_is_nowhere_in_the_database(
    customer, connected, stripe_on, live_server, settings
):
    settings.SITE_URL = live_server.url
    stripe_on.webhook_url = live_server.url + "/webhooks/stripe/"
    invoice = InvoiceFactory(customer=customer)
    issued = link_create(customer=customer, actor=Actor.system(), document=invoice)
    phone = Client()
    assert phone.get(f"/p/{issued.token}/").status_code == 302
    answer = phone.post(f"/p/{issued.token}/pay/invoices/{invoice.public_id}/")
    payment = Payment.objects.get()
    stripe_on.complete_session(payment.stripe_session_id)  # the webhook is delivered
    done = phone.get(f"/pay/{payment.public_id}/done/?session_id={payment.stripe_session_id}")
    assert answer.status_code == 303 and 'data-state="paid"' in done.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
    assert StripeEvent.objects.filter(payment=payment).count() == 1
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED

    dump = database_dump()
    assert payment.stripe_session_id in dump  # the dump does hold the journey's rows
    assert dump.count(issued.token) == 0


@pytest.mark.django_db
def test_the_migration_redacts_tokens_in_payloads_stored_before(company):
    token = "Kx9_2vQ-" + "a" * 35
    old_url = f"https://app.example/p/{token}/pay/abcdefghijklmn/done/?session_id=cs_1"
    event = StripeEvent.objects.create(
        event_id="evt_old",
        type="checkout.session.completed",
        company=company,
        payload={
            "id": "evt_old",
            "data": {
                "object": {
                    "id": "cs_1",
                    "success_url": old_url,
                    "cancel_url": f"https://app.example/p/{token}/pay/abcdefghijklmn/cancelled/",
                    "metadata": {"cc_payment": "abcdefghijklmn"},
                    "amount_total": 135600,
                    "items": [f"/p/{token}/"],
                }
            },
        },
    )
    clean = StripeEvent.objects.create(event_id="evt_new", type="x", payload={"url": "/pay/x/"})

    importlib.import_module(MIGRATION).redact_stored(apps, None)

    event.refresh_from_db()
    session = event.payload["data"]["object"]
    assert token not in str(event.payload)
    expected = "https://app.example/p/[redacted]/pay/abcdefghijklmn/done/?session_id=cs_1"
    assert session["success_url"] == expected
    assert session["items"] == ["/p/[redacted]/"]
    assert session["amount_total"] == 135600 and session["metadata"]["cc_payment"]
    clean.refresh_from_db()
    assert clean.payload == {"url": "/pay/x/"}
