"""Rows that must exist once even where a column of their key is empty (NULL): a STOP to the
platform's shared sender (no company) and an event automation's run (no occurrence). NULLs are
distinct in a unique index, so a partial index holds those rows once, on PostgreSQL and on SQLite
(the README's laptop default, which has no NULLS NOT DISTINCT) alike."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from automations import services as automations
from automations.models import Automation, AutomationRun, RunOutcome
from crewcommand.messaging import consent
from crewcommand.models import SmsOptOut

pytestmark = pytest.mark.django_db


def test_a_stop_to_the_shared_sender_is_one_row_however_often_it_comes(company):
    for _ in range(2):
        consent.opt_out_number(company=company, phone="+14165550123", everywhere=True)
    assert SmsOptOut.objects.filter(company=None, phone="+14165550123").count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        SmsOptOut.objects.create(company=None, phone="+14165550123")
    consent.opt_out_number(company=company, phone="+14165550123")  # and one for the company
    assert SmsOptOut.objects.filter(phone="+14165550123").count() == 2


def test_an_event_automation_runs_once_per_event(company, customer):
    automation = Automation.objects.filter(company=company).first()
    assert automations._claim(automation, "activity", 42) is True
    assert automations._claim(automation, "activity", 42) is False
    assert AutomationRun.objects.filter(automation=automation, object_id=42).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        AutomationRun.objects.create(
            company=company,
            automation=automation,
            object_kind="activity",
            object_id=42,
            outcome=RunOutcome.SKIPPED,
        )
