"""Intuit's webhook: ``POST /webhooks/quickbooks/`` (no login, no CSRF; the signature is the
authentication). A notification is only a trigger: the company's payments are then pulled from
QuickBooks, whose current state is trusted, never the payload's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.quickbooks import services

WATCHED = frozenset({"Payment", "Invoice"})


def signature_valid(body: bytes, signature: str, verifier: str) -> bool:
    """``intuit-signature`` is base64(HMAC-SHA256(verifier token, raw body))."""
    expected = base64.b64encode(hmac.new(verifier.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode())


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    verifier = settings.QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN
    if not verifier:
        return HttpResponse(status=404)
    if not signature_valid(request.body, request.headers.get("intuit-signature", ""), verifier):
        return HttpResponse(status=401)
    try:
        payload = json.loads(request.body)
        notifications = payload.get("eventNotifications") or []
        realms = {
            str(note["realmId"])
            for note in notifications
            if any(
                entity.get("name") in WATCHED
                for entity in (note.get("dataChangeEvent") or {}).get("entities") or []
            )
        }
    except (ValueError, AttributeError, KeyError, TypeError):
        return HttpResponse(status=400)
    services.webhook_received(realm_ids=realms)
    return HttpResponse(status=200)
