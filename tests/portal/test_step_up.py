"""Step-up codes (issue 18, point 2): a 6-digit code sent to the link's own contact before
signing (and paying, in tests/billing), stored only as an HMAC, compared in constant time, never
logged or readable in the outbox; 5 tries, 10 minutes, one use; rate limits per link and per
address. Plain forms here (no JavaScript); the htmx answer is checked too."""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from crewcommand.models import Contact, Message
from documents.models import EstimateStatus
from portal import stepup
from portal.models import CodeChallenge, Signature
from tests.portal.helpers import accept_data, issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def step_up_company(company):
    company.step_up_required = True
    company.quiet_hours_start = company.quiet_hours_end  # texts go at once
    company.save()
    return company


@pytest.fixture
def second(customer):
    return Contact.objects.create(
        company=customer.company,
        customer=customer,
        name="Ben Tremblay",
        email="ben@example.com",
        phone="+14165550188",
        role="spouse",
        preferred_channel="sms",
    )


def _code_from(message: Message) -> str:
    """The code as the worker would send it (the sealed text), never the readable copy."""
    from crewcommand.messaging.outbox import full_text

    return re.search(r"\b(\d{6})\b", full_text(message)["body"]).group(1)


def _request_code(client: Client, token: str, estimate, purpose: str = "sign", **extra):
    page = f"/p/{token}/estimates/{estimate.public_id}/"
    return client.post(f"/p/{token}/code/", {"purpose": purpose, "next": page}, **extra)


def test_the_code_goes_to_the_links_own_contact_hashed_and_redacted_at_rest(
    step_up_company, estimate, second, django_capture_on_commit_callbacks, caplog
):
    issued = issue(estimate.customer, estimate, contact=second)
    caplog.set_level(logging.DEBUG)
    client = Client()
    with django_capture_on_commit_callbacks(execute=False):
        response = _request_code(client, issued.token, estimate)
    assert response.status_code == 302 and "code=sent" in response["Location"]
    challenge = CodeChallenge.objects.get(link=issued.link)
    message = Message.objects.get(template="portal_code")
    assert message.channel == "sms" and message.to == "+14165550188"  # Ben's, not Alice's
    code = _code_from(message)
    # At rest: the HMAC only, the readable copy redacted, the real text sealed.
    assert challenge.code_hash == stepup.code_hash(challenge.salt, code)
    assert code not in challenge.code_hash and len(challenge.code_hash) == 64
    assert code not in message.body and "[redacted]" in message.body and message.sealed
    assert code not in caplog.text
    # The page says where it went, masked.
    page = client.get(response["Location"]).content.decode()
    assert "We texted a 6-digit code to •••• 0188" in page


def test_htmx_gets_the_note_in_place(step_up_company, estimate, second):
    issued = issue(estimate.customer, estimate, contact=second)
    response = _request_code(Client(), issued.token, estimate, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and 'id="code-status"' in body
    assert "We texted a 6-digit code" in body and "<html" not in body


def test_signing_needs_the_right_code_and_records_it(step_up_company, estimate, second):
    issued = issue(estimate.customer, estimate, contact=second)
    client = Client()
    url = f"/p/{issued.token}/estimates/{estimate.public_id}/accept/"
    page = client.get(f"/p/{issued.token}/estimates/{estimate.public_id}/").content.decode()
    assert "Send me a code" in page and 'autocomplete="one-time-code"' in page

    # No code yet, a malformed one, a wrong one: a clear message, nothing signed.
    response = client.post(url, accept_data(estimate))
    assert "Type the 6-digit code we sent you." in response.content.decode()
    response = client.post(url, accept_data(estimate, code="12ab"))
    assert "Type the 6-digit code we sent you." in response.content.decode()
    response = client.post(url, accept_data(estimate, code="123456"))
    assert "Ask for a code first" in response.content.decode()
    _request_code(client, issued.token, estimate)
    code = _code_from(Message.objects.get(template="portal_code"))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = client.post(url, accept_data(estimate, code=wrong))
    assert "That code is not right. 4 tries left." in response.content.decode()
    estimate.refresh_from_db()
    assert estimate.status != EstimateStatus.ACCEPTED and not Signature.objects.exists()

    response = client.post(url, accept_data(estimate, code=code[:3] + " " + code[3:]))
    assert response.status_code == 302
    signature = Signature.objects.get(estimate=estimate)
    assert signature.contact == second and signature.contact_name == "Ben Tremblay"
    assert signature.step_up_channel == "sms" and signature.step_up_verified_at is not None
    challenge = CodeChallenge.objects.get(link=issued.link)
    assert challenge.used_at is not None and challenge.tries == 2
    from portal import services

    assert services.signature_verify(signature=signature).ok


def test_ten_thousand_random_codes_never_open_a_live_challenge(step_up_company, estimate, second):
    issued = issue(estimate.customer, estimate, contact=second)
    stepup.code_request(link=issued.link, purpose="sign", ip_bucket="198.51.100.7")
    message = Message.objects.get(template="portal_code")
    real = _code_from(message)
    rng = random.Random(18)
    hits = refused = 0
    for _ in range(10_000):
        guess = f"{rng.randrange(10**6):06d}"
        try:
            stepup.code_check(
                link=issued.link, purpose="sign", code=guess, ip_bucket="198.51.100.7"
            )
        except stepup.CodeRefused:
            refused += 1
        else:
            hits += 1
    assert hits == 0 and refused == 10_000
    # Dead after 5 tries: not even the real code opens it now.
    assert CodeChallenge.objects.get(link=issued.link).tries == stepup.MAX_TRIES
    with pytest.raises(stepup.CodeRefused):
        stepup.code_check(link=issued.link, purpose="sign", code=real, ip_bucket="203.0.113.9")


def test_the_limits_hold_across_new_codes_and_addresses(step_up_company, estimate, second):
    issued = issue(estimate.customer, estimate, contact=second)
    for _ in range(stepup.REQUESTS_PER_LINK):
        stepup.code_request(link=issued.link, purpose="sign", ip_bucket="a")
    with pytest.raises(stepup.CodeLimited):
        stepup.code_request(link=issued.link, purpose="sign", ip_bucket="b")
    # Per address: another link, same address.
    other = issue(estimate.customer, estimate, contact=second)
    cache.clear()
    for _ in range(stepup.TRIES_PER_IP):
        with pytest.raises(stepup.CodeRefused):
            stepup.code_check(link=other.link, purpose="sign", code="000000", ip_bucket="x")
    stepup.code_request(link=other.link, purpose="sign", ip_bucket="x")
    real = _code_from(Message.objects.filter(template="portal_code").first())
    with pytest.raises(stepup.CodeRefused, match="Too many tries"):
        stepup.code_check(link=other.link, purpose="sign", code=real, ip_bucket="x")


def test_a_used_or_expired_code_never_works_again(step_up_company, estimate, second):
    issued = issue(estimate.customer, estimate, contact=second)
    stepup.code_request(link=issued.link, purpose="sign", ip_bucket="a")
    real = _code_from(Message.objects.get(template="portal_code"))
    challenge = stepup.code_check(link=issued.link, purpose="sign", code=real, ip_bucket="a")
    stepup.code_spend(challenge=challenge)
    with pytest.raises(stepup.CodeRefused):
        stepup.code_check(link=issued.link, purpose="sign", code=real, ip_bucket="a")
    with pytest.raises(stepup.CodeRefused):
        stepup.code_spend(challenge=challenge)

    stepup.code_request(link=issued.link, purpose="sign", ip_bucket="a")
    fresh = CodeChallenge.objects.filter(link=issued.link, used_at=None).get()
    code = _code_from(Message.objects.filter(template="portal_code").first())
    CodeChallenge.objects.filter(pk=fresh.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(stepup.CodeRefused, match="expired"):
        stepup.code_check(link=issued.link, purpose="sign", code=code, ip_bucket="a")
    # A newer code replaces the older one: the older one stops working.
    stepup.code_request(link=issued.link, purpose="sign", ip_bucket="a")
    older = _code_from(Message.objects.filter(template="portal_code").first())
    stepup.code_request(link=issued.link, purpose="sign", ip_bucket="a")
    newest = _code_from(Message.objects.filter(template="portal_code").first())
    if older != newest:
        with pytest.raises(stepup.CodeRefused):
            stepup.code_check(link=issued.link, purpose="sign", code=older, ip_bucket="a")


def test_the_threshold_leaves_small_estimates_alone(step_up_company, estimate, second):
    step_up_company.step_up_above = Decimal("100000.00")
    step_up_company.save()
    issued = issue(estimate.customer, estimate, contact=second)
    client = Client()
    page = client.get(f"/p/{issued.token}/estimates/{estimate.public_id}/").content.decode()
    assert "Send me a code" not in page
    url = f"/p/{issued.token}/estimates/{estimate.public_id}/accept/"
    assert client.post(url, accept_data(estimate)).status_code == 302
    signature = Signature.objects.get(estimate=estimate)
    assert signature.step_up_channel == "" and signature.contact_name == "Ben Tremblay"


def test_off_by_default(company, estimate):
    assert company.step_up_required is False
    issued = issue(estimate.customer, estimate)
    page = Client().get(f"/p/{issued.token}/estimates/{estimate.public_id}/").content.decode()
    assert "Send me a code" not in page


def test_bad_code_requests_change_nothing(step_up_company, estimate, second):
    issued = issue(estimate.customer, estimate, contact=second)
    client = Client()
    for data in ({}, {"purpose": "steal"}, {"purpose": "sign" * 500}):
        response = client.post(f"/p/{issued.token}/code/", data)
        assert response.status_code == 400
        assert "Something went wrong" in response.content.decode()
    assert not CodeChallenge.objects.exists()
    assert not Message.objects.filter(template="portal_code").exists()
    # A contact with nowhere to send: said so, nothing sent.
    Contact.objects.filter(pk=second.pk).update(email="", phone="")
    response = _request_code(client, issued.token, estimate)
    assert response.status_code == 400 and "no way to send you a code" in response.content.decode()
    assert not CodeChallenge.objects.exists()
    # Only POST.
    assert client.get(f"/p/{issued.token}/code/").status_code == 405


def test_in_french_the_code_and_its_text_are_french(
    step_up_company, estimate, second, django_capture_on_commit_callbacks
):
    second.language = "fr-ca"
    second.save()
    customer = estimate.customer
    customer.language = "fr-ca"
    customer.save(update_fields=["language"])
    issued = issue(customer, estimate, contact=second)
    client = Client()
    page = client.get(f"/p/{issued.token}/estimates/{estimate.public_id}/").content.decode()
    assert "Envoyez-moi un code" in page and "Code reçu" in page
    response = _request_code(client, issued.token, estimate, HTTP_HX_REQUEST="true")
    assert "Nous avons envoyé par texto un code à 6 chiffres" in response.content.decode()
    from crewcommand.messaging.outbox import full_text

    text = full_text(Message.objects.get(template="portal_code"))["body"]
    assert "votre code est" in text and "Ne le partagez pas." in text
