"""Migration ``0003_french_messages``: every company's default automations get their Quebec
French text, except where the company changed the English one (its own words)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from automations.defaults import DEFAULTS, FRENCH
from automations.models import Automation
from tests.factories import CompanyFactory


@pytest.mark.django_db(transaction=True)
def test_the_migration_adds_french_to_the_untouched_defaults_only():
    mine = CompanyFactory(name="Maple Plumbing", slug="maple")
    other = CompanyFactory(name="Rival Heating", slug="rival")
    call_command("migrate", "automations", "0002", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'automations_automation' AND column_name = 'body_fr'"
        )
        assert cursor.fetchall() == []  # before French
        # The company rewrote one default's message, and another's subject.
        cursor.execute(
            "UPDATE automations_automation SET body = %s WHERE company_id = %s AND key = %s",
            ["Our own words: {payment_link}", mine.pk, "invoice_sent_sms"],
        )
        cursor.execute(
            "UPDATE automations_automation SET subject = %s WHERE company_id = %s AND key = %s",
            ["Tell us!", mine.pk, "review_request"],
        )
    call_command("migrate", verbosity=0)

    french = {
        key: (subject, body)
        for key, subject, body in Automation.objects.filter(company=mine).values_list(
            "key", "subject_fr", "body_fr"
        )
    }
    assert french["invoice_sent_sms"] == ("", "")
    assert french["review_request"] == ("", "")
    for default in DEFAULTS:
        key = str(default["key"])
        if key in ("invoice_sent_sms", "review_request"):
            continue
        assert french[key] == (FRENCH[key].get("subject_fr", ""), FRENCH[key]["body_fr"])
    # The other company changed nothing: all of its defaults are bilingual.
    others = Automation.objects.filter(company=other).exclude(key="")
    assert others.count() == len(DEFAULTS)
    assert not [a.key for a in others if a.missing_languages]
    assert Automation.objects.get(company=mine, key="invoice_sent_sms").missing_languages == ["fr"]
