"""QuickBooks Online: the real intuit-oauth and python-quickbooks SDKs against the fake server
in tests/fakes/quickbooks_server.py, over HTTP. Nothing of the SDKs is mocked."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.urls import reverse

from billing.models import Payment
from billing.quickbooks import crypto, sync
from billing.quickbooks.models import (
    ConnectionStatus,
    QuickBooksConnection,
    RecordKind,
    SyncRecord,
    SyncStatus,
    TaxMapping,
)
from billing.quickbooks.services import tax_codes_refresh
from billing.quickbooks.tasks import pull_payments, sweep
from documents.models import InvoiceStatus
from tests.billing.qbo import add_canadian_codes, connect
from tests.factories import CustomerFactory, InvoiceFactory, PaymentFactory
from tests.fakes.quickbooks_server import TAX_CODE_HST_ON


@pytest.fixture
def connected(owner_client, qbo_on):
    return connect(owner_client, qbo_on)


def push_invoice(invoice) -> SyncRecord:
    record = sync.mark_pending(
        company_id=invoice.company_id,
        kind=RecordKind.INVOICE,
        local_id=invoice.pk,
        label=invoice.display_number,
    )
    sync.push(record.pk)
    record.refresh_from_db()
    return record


def qbo_invoices(fake, realm):
    return fake.entities(realm, "Invoice")


# -- connect ----------------------------------------------------------------------------------


def test_connect_stores_the_realm_and_encrypted_tokens(owner_client, qbo_on):
    conn = connect(owner_client, qbo_on)
    assert conn.status == ConnectionStatus.CONNECTED
    assert conn.realm_id in qbo_on.companies
    assert conn.company_name == "Fake Contracting Ltd"
    assert {code["name"] for code in conn.tax_codes} >= {"GST", "HST ON", "Exempt"}
    refresh = crypto.decrypt(conn.refresh_token_encrypted)
    assert refresh in qbo_on.refresh_tokens  # the live token, readable only with the key
    assert refresh not in conn.refresh_token_encrypted
    page = owner_client.get(reverse("quickbooks:overview"))
    assert conn.realm_id in page.content.decode()


def test_a_callback_with_a_forged_state_connects_nothing(owner_client, qbo_on):
    owner_client.post(reverse("quickbooks:connect"))
    realm = qbo_on.create_company()
    code = qbo_on.issue_authorization_code(realm)
    response = owner_client.get(
        reverse("quickbooks:callback"), {"code": code, "realmId": realm, "state": "forged"}
    )
    assert response.status_code == 302
    assert not QuickBooksConnection.objects.filter(status=ConnectionStatus.CONNECTED).exists()


def test_declined_consent_connects_nothing(owner_client, qbo_on):
    qbo_on.deny_consent = True
    response = owner_client.post(reverse("quickbooks:connect"))
    import requests

    back = requests.get(response["Location"], allow_redirects=False, timeout=10).headers["Location"]
    owner_client.get(back.replace("http://testserver", ""))
    assert not QuickBooksConnection.objects.exists()


def test_office_staff_cannot_connect(office_client, qbo_on):
    assert office_client.post(reverse("quickbooks:connect")).status_code == 403


def test_without_credentials_the_page_explains_the_setup(owner_client, settings):
    settings.QUICKBOOKS_ENABLED = False
    page = owner_client.get(reverse("quickbooks:overview"))
    assert page.status_code == 200
    assert "QUICKBOOKS_CLIENT_ID" in page.content.decode()
    assert owner_client.post(reverse("quickbooks:connect")).status_code == 302


def test_disconnect_revokes_and_reconnect_reuses_the_same_records(
    owner_client, connected, qbo_on, invoice
):
    assert push_invoice(invoice).status == SyncStatus.SYNCED
    owner_client.post(reverse("quickbooks:disconnect"))
    conn = QuickBooksConnection.objects.get()
    assert conn.status == ConnectionStatus.DISCONNECTED and not conn.refresh_token_encrypted
    assert not [g for g in qbo_on.refresh_tokens.values() if g.realm_id == connected.realm_id]
    connect(owner_client, qbo_on, realm=connected.realm_id)
    assert push_invoice(invoice).status == SyncStatus.SYNCED
    assert len(qbo_invoices(qbo_on, connected.realm_id)) == 1


def test_a_key_derived_from_the_dedicated_secret_works_and_secret_key_is_never_used(settings):
    settings.QUICKBOOKS_TOKEN_KEYS = []
    settings.QUICKBOOKS_TOKEN_SECRET = "a long dedicated secret for quickbooks tokens"
    sealed = crypto.encrypt("token-value")
    assert crypto.decrypt(sealed) == "token-value"
    settings.QUICKBOOKS_TOKEN_SECRET = ""
    assert not crypto.key_configured()
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt("x")


# -- push -------------------------------------------------------------------------------------


def test_an_invoice_goes_to_quickbooks_with_its_customer_and_our_total(connected, qbo_on, invoice):
    record = push_invoice(invoice)
    assert record.status == SyncStatus.SYNCED, record.message
    theirs = qbo_on.entity(connected.realm_id, "Invoice", record.qbo_id)
    assert Decimal(str(theirs["TotalAmt"])) == invoice.total == Decimal("1356.00")
    assert theirs["DocNumber"] == invoice.display_number
    assert theirs["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"]["value"] == TAX_CODE_HST_ON
    customers = qbo_on.entities(connected.realm_id, "Customer")
    assert [c["DisplayName"] for c in customers] == ["Alice Tremblay"]
    assert record.sync_token == theirs["SyncToken"]


def test_syncing_the_same_invoice_twice_makes_one_quickbooks_invoice_updated_by_sync_token(
    connected, qbo_on, invoice
):
    first = push_invoice(invoice)
    second = push_invoice(invoice)
    assert second.status == SyncStatus.SYNCED
    assert second.qbo_id == first.qbo_id
    assert int(second.sync_token) == int(first.sync_token) + 1
    assert len(qbo_invoices(qbo_on, connected.realm_id)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_pushing_the_same_invoice_at_once_make_one_quickbooks_invoice(
    owner, qbo_on, client
):
    client.force_login(owner.user)
    conn = connect(client, qbo_on)
    invoice = InvoiceFactory(customer=CustomerFactory(company=owner.company, name="Bo"))
    record = sync.mark_pending(
        company_id=invoice.company_id, kind=RecordKind.INVOICE, local_id=invoice.pk, label="x"
    )
    results: list[str | None] = []
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        try:
            results.append(sync.push(record.pk))
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [None, None, None, SyncStatus.SYNCED]
    assert len(qbo_invoices(qbo_on, conn.realm_id)) == 1


def test_amounts_equal_ours_to_the_cent_for_200_random_invoices_across_provinces(
    connected, qbo_on, company
):
    add_canadian_codes(qbo_on, connected.realm_id)
    tax_codes_refresh(company=company)
    rng = random.Random(15)
    provinces = ["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"]
    customers = [CustomerFactory(company=company, name=f"Client {n}") for n in range(10)]
    mismatches = []
    for n in range(200):
        province = rng.choice(provinces)
        parts = rng.choice(["all", "all", "federal", "provincial"])
        lines = []
        for _ in range(rng.randint(1, 4)):
            taxable = rng.random() > 0.2
            lines.append(
                {
                    "description": f"Line {n}",
                    "quantity": str(rng.choice(["1", "2", "3", "0.5", "1.25", "7"])),
                    "unit_price": f"{rng.randint(1, 250000) / 100:.2f}",
                    "taxable": taxable,
                    "tax_parts": parts,
                }
            )
        invoice = InvoiceFactory(customer=rng.choice(customers), province=province, lines=lines)
        record = push_invoice(invoice)
        if record.status != SyncStatus.SYNCED:
            mismatches.append((invoice.display_number, province, record.message))
            continue
        theirs = qbo_on.entity(connected.realm_id, "Invoice", record.qbo_id)
        if Decimal(str(theirs["TotalAmt"])) != invoice.total:
            mismatches.append((invoice.display_number, province, theirs["TotalAmt"], invoice.total))
    assert mismatches == []
    assert len(qbo_invoices(qbo_on, connected.realm_id)) == 200


def test_a_tax_code_missing_in_quickbooks_needs_attention_and_the_rest_keeps_syncing(
    connected, qbo_on, company, customer
):
    TaxMapping.objects.create(company=company, tax_key="ON:all", tax_code_id="999")
    broken = InvoiceFactory(customer=customer)
    fine = InvoiceFactory(customer=customer, province="AB")
    bad = push_invoice(broken)
    assert bad.status == SyncStatus.ATTENTION
    assert "tax code" in bad.message and "ON" in bad.message
    assert push_invoice(fine).status == SyncStatus.SYNCED
    assert len(qbo_invoices(qbo_on, connected.realm_id)) == 1


def test_local_invoice_number_already_in_quickbooks_is_reported(
    connected, qbo_on, invoice, customer
):
    first = push_invoice(invoice)
    # Another CrewCommand-unknown invoice with our next number already sits in QuickBooks.
    SyncRecord.objects.filter(pk=first.pk).update(qbo_id="", sync_token="")
    again = push_invoice(invoice)
    assert again.status == SyncStatus.ATTENTION
    assert invoice.display_number in again.message and "already exists" in again.message
    assert len(qbo_invoices(qbo_on, connected.realm_id)) == 1


# -- customer matching ------------------------------------------------------------------------


def _qbo_customer(fake, realm, name, email=""):
    body = {
        "DisplayName": name,
        "Active": True,
        "Balance": Decimal(0),
        "BalanceWithJobs": Decimal(0),
    }
    if email:
        body["PrimaryEmailAddr"] = {"Address": email}
    with fake.lock:
        return fake.companies[realm].insert("Customer", body)


def test_a_customer_already_in_quickbooks_is_matched_by_email(connected, qbo_on, company):
    existing = _qbo_customer(qbo_on, connected.realm_id, "A. Tremblay (old)", "alice@example.com")
    customer = CustomerFactory(company=company, name="Alice Tremblay", email="ALICE@example.com")
    record = push_invoice(InvoiceFactory(customer=customer))
    assert record.status == SyncStatus.SYNCED
    customers = qbo_on.entities(connected.realm_id, "Customer")
    assert [c["Id"] for c in customers] == [existing["Id"]]


def test_then_by_display_name(connected, qbo_on, company):
    existing = _qbo_customer(qbo_on, connected.realm_id, "Bob Roy")
    customer = CustomerFactory(company=company, name="Bob Roy", email="bob@example.com")
    assert push_invoice(InvoiceFactory(customer=customer)).status == SyncStatus.SYNCED
    assert [c["Id"] for c in qbo_on.entities(connected.realm_id, "Customer")] == [existing["Id"]]


def test_an_ambiguous_match_is_shown_to_resolve_never_guessed(
    owner_client, connected, qbo_on, company
):
    one = _qbo_customer(qbo_on, connected.realm_id, "Chantal Roy", "chantal@example.com")
    _qbo_customer(qbo_on, connected.realm_id, "Chantal Roy (cottage)", "chantal@example.com")
    customer = CustomerFactory(company=company, name="Chantal Roy", email="chantal@example.com")
    invoice = InvoiceFactory(customer=customer)
    record = push_invoice(invoice)
    assert record.status == SyncStatus.ATTENTION
    crec = SyncRecord.objects.get(kind=RecordKind.CUSTOMER)
    assert crec.status == SyncStatus.ATTENTION and len(crec.candidates) == 2
    assert qbo_invoices(qbo_on, connected.realm_id) == []
    page = owner_client.get(reverse("quickbooks:resolve", args=[crec.public_id]))
    assert "Chantal Roy (cottage)" in page.content.decode()
    bad = owner_client.post(reverse("quickbooks:resolve", args=[crec.public_id]), {"choice": "77"})
    assert bad.status_code == 200
    owner_client.post(reverse("quickbooks:resolve", args=[crec.public_id]), {"choice": one["Id"]})
    crec.refresh_from_db()
    assert crec.qbo_id == one["Id"]
    assert push_invoice(invoice).status == SyncStatus.SYNCED
    assert qbo_invoices(qbo_on, connected.realm_id)[0]["CustomerRef"]["value"] == one["Id"]


# -- tokens -----------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_once_and_the_call_retried(connected, qbo_on, invoice):
    before = crypto.decrypt(QuickBooksConnection.objects.get().refresh_token_encrypted)
    qbo_on.expire_access_tokens()
    token_calls = len([r for r in qbo_on.requests if r.path.endswith("/tokens/bearer")])
    record = push_invoice(invoice)
    assert record.status == SyncStatus.SYNCED
    after = crypto.decrypt(QuickBooksConnection.objects.get().refresh_token_encrypted)
    assert after != before and after in qbo_on.refresh_tokens
    refreshes = [r for r in qbo_on.requests if r.path.endswith("/tokens/bearer")][token_calls:]
    assert len(refreshes) == 1


def test_a_revoked_refresh_token_asks_for_reconnection_and_stops_retrying(
    connected, qbo_on, invoice
):
    with qbo_on.lock:
        qbo_on.refresh_tokens.clear()
        qbo_on.access_tokens.clear()
    record = push_invoice(invoice)
    conn = QuickBooksConnection.objects.get()
    assert conn.status == ConnectionStatus.NEEDS_RECONNECT
    assert "Connect QuickBooks again" in conn.last_error
    assert record.status == SyncStatus.PENDING and record.next_attempt_at is None
    assert sync.due_record_ids() == []
    assert sync.push(record.pk) is None  # not due: nothing is tried again until reconnecting


def test_a_transient_failure_is_retried_later_with_backoff(connected, qbo_on, invoice, settings):
    settings.QUICKBOOKS_API_BASE = "http://127.0.0.1:9/v3"  # nothing listens: connection refused
    record = push_invoice(invoice)
    assert record.status == SyncStatus.ERROR and record.next_attempt_at is not None
    assert record.attempts == 1
    settings.QUICKBOOKS_API_BASE = qbo_on.api_url_v3
    SyncRecord.objects.filter(pk=record.pk).update(next_attempt_at=record.created_at)
    assert sync.push(record.pk) == SyncStatus.SYNCED


# -- payments both ways -----------------------------------------------------------------------


def test_a_payment_recorded_here_is_applied_to_its_invoice_in_quickbooks(
    connected, qbo_on, invoice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payment = PaymentFactory(invoice=invoice, amount=invoice.total)
    record = SyncRecord.objects.get(kind=RecordKind.PAYMENT, local_id=payment.pk)
    assert record.status == SyncStatus.SYNCED, record.message
    theirs = qbo_on.entity(connected.realm_id, "Payment", record.qbo_id)
    assert Decimal(str(theirs["TotalAmt"])) == invoice.total
    inv_record = SyncRecord.objects.get(kind=RecordKind.INVOICE)
    qbo_invoice = qbo_on.entity(connected.realm_id, "Invoice", inv_record.qbo_id)
    assert Decimal(str(qbo_invoice["Balance"])) == 0


def test_a_payment_entered_in_quickbooks_marks_the_invoice_paid_here(connected, qbo_on, invoice):
    record = push_invoice(invoice)
    customer_id = qbo_on.entity(connected.realm_id, "Invoice", record.qbo_id)["CustomerRef"][
        "value"
    ]
    with qbo_on.lock:
        company = qbo_on.companies[connected.realm_id]
        pay = {
            "CustomerRef": {"value": customer_id},
            "TotalAmt": Decimal("1356.00"),
            "Line": [
                {
                    "Amount": Decimal("1356.00"),
                    "LinkedTxn": [{"TxnId": record.qbo_id, "TxnType": "Invoice"}],
                }
            ],
        }
        saved = qbo_on._create(company, "Payment", pay)
    assert pull_payments() == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.balance == 0
    payment = Payment.objects.get(invoice=invoice)
    assert payment.amount == Decimal("1356.00")
    precord = SyncRecord.objects.get(kind=RecordKind.PAYMENT)
    assert precord.from_quickbooks and precord.qbo_id == saved["Id"]
    assert pull_payments() == 0  # idempotent
    assert len(qbo_on.entities(connected.realm_id, "Payment")) == 1  # never pushed back


def test_the_sweep_queues_sent_invoices_and_skips_drafts(connected, qbo_on, customer):
    sent = InvoiceFactory(customer=customer)
    InvoiceFactory(customer=customer, sent=False)
    assert sweep() == {"queued": 1, "due": 1}
    assert SyncRecord.objects.get(kind=RecordKind.INVOICE).local_id == sent.pk
    assert sweep()["queued"] == 0


# -- pages ------------------------------------------------------------------------------------


def test_the_log_and_tax_code_pages_show_statuses_and_save_choices(
    owner_client, connected, qbo_on, invoice, company, django_assert_max_num_queries
):
    push_invoice(invoice)
    with django_assert_max_num_queries(12):
        page = owner_client.get(reverse("quickbooks:log"))
    assert "Synced" in page.content.decode() and invoice.display_number in page.content.decode()
    page = owner_client.get(reverse("quickbooks:tax_codes"))
    assert page.status_code == 200
    response = owner_client.post(reverse("quickbooks:tax_codes"), {"ON:all": "4", "exempt": "2"})
    assert response.status_code == 302
    assert TaxMapping.objects.get(company=company, tax_key="ON:all").tax_code_id == "4"
    bad = owner_client.post(reverse("quickbooks:tax_codes"), {"ON:all": "nope"})
    assert bad.status_code == 200 and TaxMapping.objects.get(tax_key="ON:all").tax_code_id == "4"


def test_invoice_and_customer_pages_show_a_sync_badge(owner_client, connected, qbo_on, invoice):
    push_invoice(invoice)
    panel = owner_client.get(
        reverse("billing_dashboard:invoice_payments", args=[invoice.public_id])
    )
    assert "QuickBooks" in panel.content.decode() and "Synced" in panel.content.decode()
    page = owner_client.get(reverse("dashboard:customer_detail", args=[invoice.customer.public_id]))
    assert "Synced" in page.content.decode()


def test_voiding_an_invoice_here_voids_it_in_quickbooks_once(connected, qbo_on, invoice):
    from crewcommand.lib.activity import Actor
    from documents import services as documents

    record = push_invoice(invoice)
    documents.invoice_void(invoice=invoice, actor=Actor.system())
    again = push_invoice(invoice)
    assert again.status == SyncStatus.SYNCED, again.message
    theirs = qbo_on.entity(connected.realm_id, "Invoice", record.qbo_id)
    assert Decimal(str(theirs["TotalAmt"])) == 0 and theirs["PrivateNote"] == "Voided"
    assert push_invoice(invoice).sync_token == again.sync_token  # not voided a second time
    assert len(qbo_invoices(qbo_on, connected.realm_id)) == 1


def test_a_quickbooks_payment_larger_than_the_balance_records_only_the_balance(
    connected, qbo_on, invoice
):
    record = push_invoice(invoice)
    PaymentFactory(invoice=invoice, amount=Decimal("1000.00"))  # not pushed: no on_commit here
    customer_id = qbo_on.entity(connected.realm_id, "Invoice", record.qbo_id)["CustomerRef"][
        "value"
    ]
    with qbo_on.lock:
        company = qbo_on.companies[connected.realm_id]
        qbo_on._create(
            company,
            "Payment",
            {
                "CustomerRef": {"value": customer_id},
                "TotalAmt": Decimal("1356.00"),
                "Line": [
                    {
                        "Amount": Decimal("1356.00"),
                        "LinkedTxn": [{"TxnId": record.qbo_id, "TxnType": "Invoice"}],
                    }
                ],
            },
        )
    assert pull_payments() == 1
    invoice.refresh_from_db()
    assert invoice.balance == 0 and invoice.amount_paid == invoice.total


def test_a_429_from_quickbooks_is_retried_later_and_then_syncs_once(connected, qbo_on, invoice):
    import re

    from tests.fakes.base import Response, Route

    throttled = []

    def too_many(request, match):
        throttled.append(request.path)
        body = b'{"fault": {"error": [{"message": "ThrottleExceeded"}]}}'
        return Response(429, body, {"Content-Type": "application/json"})

    route = Route("POST", re.compile(r"/v3/company/[^/]+/invoice"), too_many)
    qbo_on._routes.insert(0, route)  # the fake has no switch for 429s: answer them first
    try:
        record = push_invoice(invoice)
    finally:
        qbo_on._routes.remove(route)
    assert throttled
    assert record.status == SyncStatus.ERROR and "429" in record.message
    assert record.next_attempt_at > record.updated_at  # later, with backoff
    SyncRecord.objects.filter(pk=record.pk).update(next_attempt_at=record.created_at)
    assert sync.push(record.pk) == SyncStatus.SYNCED
    assert len(qbo_invoices(qbo_on, connected.realm_id)) == 1


def test_the_callbacks_code_and_state_never_reach_the_logs():
    from crewcommand.lib.logging import redact

    line = "GET /app/billing/quickbooks/callback/?code=AB11secret&state=s3cr3t&realmId=93 200"
    assert redact(line) == (
        "GET /app/billing/quickbooks/callback/?code=[redacted]&state=[redacted]&realmId=93 200"
    )


def _signed(body: bytes, verifier: str) -> str:
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(verifier.encode(), body, hashlib.sha256).digest()).decode()


def test_a_signed_intuit_webhook_pulls_the_payment_at_once(
    client, connected, qbo_on, invoice, settings, django_capture_on_commit_callbacks
):
    import json

    settings.QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN = "verifier-token-from-intuit"
    record = push_invoice(invoice)
    customer_id = qbo_on.entity(connected.realm_id, "Invoice", record.qbo_id)["CustomerRef"][
        "value"
    ]
    with qbo_on.lock:
        saved = qbo_on._create(
            qbo_on.companies[connected.realm_id],
            "Payment",
            {
                "CustomerRef": {"value": customer_id},
                "TotalAmt": Decimal("1356.00"),
                "Line": [
                    {
                        "Amount": Decimal("1356.00"),
                        "LinkedTxn": [{"TxnId": record.qbo_id, "TxnType": "Invoice"}],
                    }
                ],
            },
        )
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": connected.realm_id,
                    "dataChangeEvent": {
                        "entities": [{"name": "Payment", "id": saved["Id"], "operation": "Create"}]
                    },
                }
            ]
        }
    ).encode()
    url = reverse("quickbooks_webhook")
    forged = client.post(
        url, body, content_type="application/json", headers={"intuit-signature": "AAAA"}
    )
    assert forged.status_code == 401
    invoice.refresh_from_db()
    assert invoice.balance > 0
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            body,
            content_type="application/json",
            headers={"intuit-signature": _signed(body, "verifier-token-from-intuit")},
        )
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    garbage = client.post(
        url,
        b"[1]",
        content_type="application/json",
        headers={"intuit-signature": _signed(b"[1]", "verifier-token-from-intuit")},
    )
    assert garbage.status_code == 400


def test_the_webhook_is_off_without_a_verifier_token(client, settings):
    settings.QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN = ""
    assert (
        client.post(
            reverse("quickbooks_webhook"), b"{}", content_type="application/json"
        ).status_code
        == 404
    )


def test_a_customer_edited_here_is_updated_in_quickbooks_by_the_sweep(connected, qbo_on, invoice):
    push_invoice(invoice)
    assert sweep()["queued"] == 0
    customer = invoice.customer
    customer.email = "new-address@example.com"
    customer.save()
    assert sweep()["queued"] == 1
    record = SyncRecord.objects.get(kind=RecordKind.CUSTOMER)
    assert record.status == SyncStatus.SYNCED
    theirs = qbo_on.entity(connected.realm_id, "Customer", record.qbo_id)
    assert theirs["PrimaryEmailAddr"]["Address"] == "new-address@example.com"
    assert len(qbo_on.entities(connected.realm_id, "Customer")) == 1
