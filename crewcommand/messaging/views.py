"""Twilio webhooks (status callbacks, inbound replies) and the one-click email unsubscribe.

Both webhooks are checked with the ``twilio`` library's ``RequestValidator`` against the URL
Twilio was given (``SITE_URL`` + path, never the request's Host header): an unsigned or forged
request gets 403 and changes nothing."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from crewcommand.messaging import channels, consent
from crewcommand.models import Channel, Company, Message, MessageStatus, customer_language

logger = logging.getLogger(__name__)

STOP_WORDS = {
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "CANCEL",
    "ARRET",
}
START_WORDS = {"START", "UNSTOP", "YES"}
# Twilio's delivery statuses → ours. Earlier ones (queued, sending, accepted) change nothing.
DELIVERY = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
}


def _signed(request: HttpRequest) -> bool:
    from twilio.request_validator import RequestValidator

    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    url = settings.SITE_URL + request.get_full_path()
    params = {key: request.POST.get(key, "") for key in request.POST}
    return bool(RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature))


def _twiml() -> HttpResponse:
    return HttpResponse(
        '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
        content_type="text/xml",
    )


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        logger.info("twilio status callback refused: bad signature")
        return HttpResponseForbidden("forbidden", content_type="text/plain")
    sid = request.POST.get("MessageSid", "")
    status = DELIVERY.get(request.POST.get("MessageStatus", ""))
    if not sid or status is None:
        return HttpResponse(status=204)
    rows = Message.objects.filter(channel=Channel.SMS, provider_id=sid)
    now = timezone.now()
    if status == MessageStatus.DELIVERED:
        rows.filter(status__in=[MessageStatus.SENT, MessageStatus.SENDING]).update(
            status=status, delivered_at=now, updated_at=now
        )
    elif status == MessageStatus.FAILED:
        code = request.POST.get("ErrorCode", "")
        rows.exclude(status=MessageStatus.DELIVERED).update(
            status=status,
            error_code=code[:20],
            last_error=f"Twilio: {request.POST.get('MessageStatus')} {code}".strip(),
            updated_at=now,
        )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        logger.info("twilio inbound refused: bad signature")
        return HttpResponseForbidden("forbidden", content_type="text/plain")
    phone = channels.sms_address(request.POST.get("From", ""))
    to = channels.sms_address(request.POST.get("To", ""))
    word = request.POST.get("Body", "").strip().upper()
    if not phone:
        return _twiml()
    service = request.POST.get("MessagingServiceSid", "")
    company = Company.objects.filter(sms_from_number=to).first() if to else None
    if company is None and service:
        company = Company.objects.filter(sms_messaging_service_sid=service).first()
    # A reply to the platform's shared sender reaches no company in particular: it counts for
    # every company that texts through that sender.
    everywhere = company is None
    if word in STOP_WORDS:
        consent.opt_out_number(company=company, phone=phone, everywhere=everywhere)
        logger.info("sms opt-out recorded")
    elif word in START_WORDS:
        consent.opt_in_number(company=company, phone=phone, everywhere=everywhere)
        logger.info("sms opt-in recorded")
    return _twiml()


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a one-button page (mail scanners follow links: no change on GET); POST, from
    that button or a mail client's List-Unsubscribe-Post, unsubscribes at once."""
    message = channels.unsubscribe_message(token)
    if message is None:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=404)
    if message.customer is not None:  # the page in the customer's language, as the email was
        translation.activate(customer_language(message.customer, message.company))
    done = False
    if request.method == "POST":
        if message.customer is not None:
            consent.withdraw(customer=message.customer, channel=Channel.EMAIL)
        done = True
    response = render(
        request,
        "messaging/unsubscribe.html",
        {"company": message.company, "done": done, "token": token},
    )
    response["Referrer-Policy"] = "no-referrer"
    return response
