"""Redact portal link tokens from what Stripe echoed back to us.

Until return URLs stopped carrying the portal token, every Checkout Session's success and
cancel URL held a live ``/p/<token>/`` link, and every stored Stripe event payload (and any
Stripe error message quoting a URL) kept a copy. This rewrites each such path segment to
``/p/[redacted]/``, like the log filter does. The pattern is frozen here on purpose: a
migration must not change meaning when application code moves on.
"""

from __future__ import annotations

import re

from django.db import migrations
from django.db.models import Q

SECRET_PATH = re.compile(r"(/(?:p|r|invite)/)(?!\[redacted\])[^/\s?\"'#\\]+")


def redact(text: str) -> str:
    return SECRET_PATH.sub(r"\1[redacted]", text)


def redact_json(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v) for v in value]
    return value


def redact_stored(apps, schema_editor) -> None:
    StripeEvent = apps.get_model("billing", "StripeEvent")
    suspects = StripeEvent.objects.filter(
        Q(payload__icontains="/p/") | Q(payload__icontains="/r/") | Q(payload__icontains="/invite/")
    )
    for event in suspects.only("pk", "payload").iterator(chunk_size=500):
        cleaned = redact_json(event.payload)
        if cleaned != event.payload:
            StripeEvent.objects.filter(pk=event.pk).update(payload=cleaned)
    for name in ("Payment", "Refund"):
        model = apps.get_model("billing", name)
        for row in model.objects.filter(failure_message__contains="/p/").only(
            "pk", "failure_message"
        ):
            model.objects.filter(pk=row.pk).update(failure_message=redact(row.failure_message))


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_payment_returned_at")]

    operations = [migrations.RunPython(redact_stored, migrations.RunPython.noop)]
