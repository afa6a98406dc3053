"""Automations fire from the activity log and from the beat scan, exactly once per object,
and queue their messages in the outbox in the transaction of the change."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automations import services
from automations.defaults import DEFAULTS
from automations.models import Automation, AutomationRun, RunOutcome, Trigger
from crewcommand import services as core_services
from crewcommand.lib.activity import Actor
from crewcommand.models import JobStatus, Message
from documents import services as documents
from tests.factories import CompanyFactory, CustomerFactory, InvoiceFactory, JobFactory

pytestmark = pytest.mark.django_db


def _only(company, key):
    """Leave only one default automation on."""
    Automation.objects.filter(company=company).exclude(key=key).update(enabled=False)
    return Automation.objects.get(company=company, key=key)


def test_a_new_company_gets_the_default_automations():
    member = core_services.company_signup(
        company_name="North Roofing",
        province="ON",
        full_name="Nora North",
        email="nora@example.com",
        password="a long enough passphrase 12",
    )
    keys = set(Automation.objects.filter(company=member.company).values_list("key", flat=True))
    assert keys == {d["key"] for d in DEFAULTS}
    assert services.defaults_create(company=member.company) == 0  # idempotent
    Automation.objects.filter(company=member.company, key="review_request").delete()
    assert services.defaults_create(company=member.company) == 1


def test_defaults_do_not_double_the_send_emails():
    by_key = {d["key"]: d for d in DEFAULTS}
    for key in ("estimate_sent_sms", "invoice_sent_sms", "payment_receipt_sms"):
        assert by_key[key]["channel"] == "sms"


def test_sending_an_invoice_queues_the_sms_companion_once(company, customer, job):
    automation = _only(company, "invoice_sent_sms")
    invoice = InvoiceFactory(customer=customer, job=job)
    sms = Message.objects.get(company=company, channel="sms")
    assert sms.to == "+14165550199"
    assert invoice.display_number in sms.body
    assert "$1,356.00" in sms.body
    assert "/pay/invoices/" in sms.sealed or sms.sealed  # the full text (with the link) is sealed
    assert "/p/" in sms.body  # the readable copy keeps the link's shape only
    run = AutomationRun.objects.get(automation=automation)
    assert (run.outcome, run.messages, run.object_kind) == (RunOutcome.QUEUED, 1, "activity")
    # Replaying the same activity row fires nothing more.
    row = run.automation.company.activities.get(pk=run.object_id)
    services.on_activity(row)
    assert Message.objects.filter(company=company).count() == 1


def test_a_failed_change_queues_nothing(company, customer):
    _only(company, "invoice_sent_sms")
    invoice = InvoiceFactory(customer=customer, sent=False)
    with pytest.raises(RuntimeError):
        from django.db import transaction

        with transaction.atomic():
            documents.invoice_send(invoice=invoice, actor=Actor.system())
            raise RuntimeError
    assert not Message.objects.exists()
    assert not AutomationRun.objects.exists()


def test_missing_phone_is_recorded_as_the_reason(company):
    _only(company, "invoice_sent_sms")
    customer = CustomerFactory(company=company, phone="")
    InvoiceFactory(customer=customer)
    run = AutomationRun.objects.get()
    assert run.outcome == RunOutcome.SKIPPED
    assert "No mobile number" in run.reason
    assert not Message.objects.exists()


def test_job_completed_asks_for_a_review_after_the_delay_once(company, customer):
    _only(company, "review_request")
    customer.preferred_channel = "sms"  # one message (the default, both, sends two)
    customer.save(update_fields=["preferred_channel"])
    job = JobFactory(customer=customer)
    before = timezone.now()
    core_services.job_update(job=job, actor=Actor.system(), fields={"status": JobStatus.COMPLETED})
    message = Message.objects.get()
    assert message.kind == "commercial"
    assert message.send_after >= before + dt.timedelta(hours=2)
    assert "/r/" in message.body
    # A second completion (reopened and completed again) is another event, but the review
    # throttle refuses a second link: recorded as skipped, not sent.
    core_services.job_update(job=job, actor=Actor.system(), fields={"status": JobStatus.REQUESTED})
    core_services.job_update(job=job, actor=Actor.system(), fields={"status": JobStatus.COMPLETED})
    assert Message.objects.count() == 1
    skipped = AutomationRun.objects.filter(outcome=RunOutcome.SKIPPED).get()
    assert "Already asked" in skipped.reason


def test_beat_scan_fires_overdue_invoices_once_even_when_run_twice(company, customer):
    three = _only(company, "invoice_overdue_3")
    ten = Automation.objects.get(company=company, key="invoice_overdue_10")
    ten.enabled = True
    ten.save()
    old = InvoiceFactory(customer=customer, issue_date=dt.date(2026, 1, 1), terms="receipt")
    recent = InvoiceFactory(customer=customer)  # due in the future: not overdue
    paid_off = InvoiceFactory(customer=customer, issue_date=dt.date(2026, 1, 1), terms="receipt")
    paid_off.status = "paid"
    paid_off.save(update_fields=["status"])
    assert services.scan_due() == 2  # the old invoice, for both the 3- and the 10-day automation
    assert services.scan_due() == 0
    runs = AutomationRun.objects.filter(object_kind="invoice")
    assert {(r.automation_id, r.object_id) for r in runs} == {(three.pk, old.pk), (ten.pk, old.pk)}
    assert recent.pk not in {r.object_id for r in runs}
    assert Message.objects.filter(concerning_id=old.pk).count() >= 2


def test_estimate_follow_up_stops_once_answered(company, customer):
    from tests.factories import EstimateFactory

    _only(company, "estimate_followup_3")
    waiting = EstimateFactory(customer=customer)
    answered = EstimateFactory(customer=customer)
    for estimate in (waiting, answered):
        type(estimate).objects.filter(pk=estimate.pk).update(
            sent_at=timezone.now() - dt.timedelta(days=4)
        )
    type(answered).objects.filter(pk=answered.pk).update(status="declined")
    assert services.scan_due() == 1
    assert AutomationRun.objects.get().object_id == waiting.pk
    assert services.scan_due() == 0


def test_job_reminder_fires_once_per_start_time(company, customer):
    _only(company, "job_reminder_24h")
    customer.preferred_channel = "sms"  # one message per reminder (both: two)
    customer.save(update_fields=["preferred_channel"])
    start = timezone.now() + dt.timedelta(hours=20)
    job = JobFactory(customer=customer, status=JobStatus.SCHEDULED, scheduled_start=start)
    JobFactory(
        customer=customer, status=JobStatus.SCHEDULED, scheduled_start=start + dt.timedelta(days=3)
    )
    assert services.scan_due() == 1
    assert services.scan_due() == 0
    # Rescheduled: a new reminder for the new time.
    core_services.job_update(
        job=job, actor=Actor.system(), fields={"scheduled_start": start + dt.timedelta(hours=2)}
    )
    assert services.scan_due() == 1
    assert Message.objects.filter(concerning_id=job.pk).count() == 2


def test_beat_scan_finds_due_cases_in_constant_queries(company):
    _only(company, "invoice_overdue_3")
    services.scan_due()  # nothing yet
    with CaptureQueriesContext(connection) as few:
        services.scan_due()
    for other in (company, CompanyFactory()):
        _only(other, "invoice_overdue_3")
        for _n in range(3):
            customer = CustomerFactory(company=other)
            InvoiceFactory(customer=customer, issue_date=dt.date(2026, 1, 1), terms="receipt")
    Message.objects.all().delete()
    assert services.scan_due() == 6
    with CaptureQueriesContext(connection) as many:
        services.scan_due()
    assert len(many) == len(few)


def test_disabled_automations_do_not_fire(company, customer):
    Automation.objects.filter(company=company).update(enabled=False)
    InvoiceFactory(customer=customer, issue_date=dt.date(2026, 1, 1), terms="receipt")
    assert services.scan_due() == 0
    assert not Message.objects.exists()


def test_another_companys_automations_never_fire_for_this_one(company, customer):
    Automation.objects.filter(company=company).update(enabled=False)
    other = CompanyFactory()
    assert Automation.objects.filter(company=other, enabled=True).exists()
    InvoiceFactory(customer=customer)
    assert not Message.objects.exists()


def test_service_request_notifies_the_company(company):
    Automation.objects.filter(company=company).update(enabled=False)
    Automation.objects.create(
        company=company,
        name="New request",
        trigger=Trigger.SERVICE_REQUEST,
        channel="email",
        recipient="company",
        subject="New request for {company_name}",
        body="{customer_name} asked for work.",
    )
    from crewcommand.lib import activity

    activity.record(
        company=company,
        verb="service_request.received",
        actor=Actor.customer("Zoe"),
        data={"name": "Zoe", "service": "Leak"},
    )
    message = Message.objects.get()
    assert message.to == company.email
    assert message.subject == f"New request for {company.name}"


def test_the_migration_backfills_companies_that_existed_before(company):
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "automations.migrations.0002_default_automations_for_existing_companies"
    )
    Automation.objects.filter(company=company).delete()
    keep = Automation.objects.count()
    migration.backfill(apps, None)
    assert Automation.objects.filter(company=company).count() == len(DEFAULTS)
    assert Automation.objects.count() == keep + len(DEFAULTS)  # the others already had them
    overdue = Automation.objects.get(company=company, key="invoice_overdue_10")
    assert overdue.offset == dt.timedelta(days=10)
