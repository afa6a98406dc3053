"""Unknown, malformed, revoked and expired tokens: rate-limited, one lookup each. Unknown and
malformed tokens get one answer (same content, same time) that names nobody; a revoked or
expired link, which was real, names its business to contact and nothing else, and only an
expired one offers a fresh link (issue 12, point 14)."""

from __future__ import annotations

import datetime as dt
import re
import statistics
import time

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from crewcommand.lib.activity import Actor
from portal import services
from portal.middleware import resolve
from portal.models import PortalLink
from portal.tokens import new_token, token_hash
from tests.portal.helpers import issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_links(estimate):
    """An unknown, a malformed, a revoked and an expired token, for the same estimate."""
    revoked = issue(estimate.customer, estimate)
    services.link_revoke(link=revoked.link, actor=Actor.system())
    expired = issue(estimate.customer, estimate)
    PortalLink.objects.filter(pk=expired.link.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    return {
        "unknown": new_token(),
        "malformed": "not-a-token",
        "revoked": revoked.token,
        "expired": expired.token,
    }


def _normalized(response) -> tuple:
    body = response.content.decode()
    body = re.sub(r"nonce=\"[^\"]+\"", 'nonce=""', body)
    body = re.sub(r"name=\"csrfmiddlewaretoken\" value=\"[^\"]+\"", "csrf", body)
    body = re.sub(r"\"X-CSRFToken\": \"[^\"]+\"", "csrf", body)
    headers = {
        name: value
        for name, value in response.headers.items()
        if name not in {"Date", "Content-Security-Policy"}
    }
    csp = re.sub(r"'nonce-[^']+'", "'nonce'", response.headers["Content-Security-Policy"])
    return response.status_code, headers, csp, sorted(response.cookies), body


def test_ten_thousand_random_tokens_hit_nothing(estimate):
    for _ in range(50):
        issue(estimate.customer, estimate)
    tokens = [new_token() for _ in range(10_000)]
    hashes = [token_hash(t) for t in tokens]
    hits = sum(
        PortalLink.objects.filter(token_hash__in=hashes[i : i + 1000]).count()
        for i in range(0, len(hashes), 1000)
    )
    assert hits == 0
    assert all(resolve(t) == (None, False) for t in tokens[:500])


UNKNOWN = ("unknown", "malformed")


def _secrets(estimate) -> list[str]:
    customer = estimate.customer
    return [
        customer.name,
        customer.email,
        customer.phone,
        estimate.display_number,
        estimate.public_id,
        "2,457.75",  # the estimate's total
    ]


@pytest.mark.parametrize("suffix", ["", "estimates/abcdefghijklmn/", "anything/else"])
def test_unknown_tokens_all_get_the_same_answer_naming_nobody(dead_links, estimate, suffix):
    answers = {
        case: _normalized(Client().get(f"/p/{dead_links[case]}/{suffix}")) for case in UNKNOWN
    }
    assert answers["malformed"] == answers["unknown"]
    status, _headers, _csp, _cookies, body = answers["unknown"]
    assert status == 404
    assert "This link doesn't work" in body
    for secret in (estimate.company.name, estimate.company.email, *_secrets(estimate)):
        assert secret not in body
    # Nothing is offered that would never come: no fresh link for a token we don't know.
    assert "fresh link" not in body and "<form" not in body


@pytest.mark.parametrize("suffix", ["", "estimates/abcdefghijklmn/", "anything/else"])
def test_revoked_and_expired_links_name_the_business_and_nothing_else(dead_links, estimate, suffix):
    company = estimate.company
    company.phone, company.email = "514 555 0142", "bureau@maple.example"
    company.save(update_fields=["phone", "email"])
    for case in ("revoked", "expired"):
        response = Client().get(f"/p/{dead_links[case]}/{suffix}")
        body = response.content.decode()
        assert response.status_code == 404, case
        assert response["Cache-Control"] == "no-store" and response["X-Robots-Tag"]
        for contact in (company.name, 'href="tel:5145550142"', "mailto:bureau@maple.example"):
            assert contact in body, (case, contact)
        for secret in _secrets(estimate):
            assert secret not in body, (case, secret)
    revoked = Client().get(f"/p/{dead_links['revoked']}/").content.decode()
    assert "This link has been turned off" in revoked
    assert "fresh link" not in revoked.lower() and "<form" not in revoked
    expired = Client().get(f"/p/{dead_links['expired']}/").content.decode()
    assert "This link has expired" in expired and "Send me a fresh link" in expired


def test_no_fresh_link_is_offered_when_none_could_be_sent(dead_links, estimate):
    """Fresh links go to a contact's own email or mobile: an expired link of a customer whose
    contacts have neither says who to call instead."""
    estimate.customer.email = estimate.customer.phone = ""
    estimate.customer.save(update_fields=["email", "phone"])
    body = Client().get(f"/p/{dead_links['expired']}/").content.decode()
    assert "This link has expired" in body and "Contact Maple Plumbing" in body
    assert "fresh link" not in body.lower() and "<form" not in body


def test_dead_links_answer_posts_without_acting(
    dead_links, estimate, django_capture_on_commit_callbacks
):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        answers = {
            case: _normalized(
                Client().post(f"/p/{token}/estimates/{estimate.public_id}/accept/", {"x": "1"})
            )
            for case, token in dead_links.items()
        }
    assert answers["malformed"] == answers["unknown"]
    assert {answer[0] for answer in answers.values()} == {404}
    estimate.refresh_from_db()
    assert estimate.status == "sent" and mail.outbox == []


def test_the_fresh_link_form_answers_the_same_whether_or_not_it_matched(
    dead_links, estimate, django_capture_on_commit_callbacks
):
    from django.core import mail

    answers = {}
    with django_capture_on_commit_callbacks(execute=True):
        for contact in (estimate.customer.email, "someone@else.example", "416 555 0000"):
            client = Client(enforce_csrf_checks=True)
            client.get(f"/p/{dead_links['expired']}/")
            csrf = client.cookies["csrftoken"].value
            answers[contact] = _normalized(
                client.post(
                    f"/p/{dead_links['expired']}/",
                    {"contact": contact, "csrfmiddlewaretoken": csrf},
                )
            )
    assert len(mail.outbox) == 1  # only the matching contact, to the address on file
    assert mail.outbox[0].to == [estimate.customer.email]
    reference = answers.pop(estimate.customer.email)
    assert reference[0] == 200 and "a fresh link is on its way" in reference[-1]
    assert all(answer == reference for answer in answers.values())


def test_a_revoked_link_never_confirms_or_sends_a_fresh_link(
    dead_links, estimate, django_capture_on_commit_callbacks
):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        for case in ("revoked", "unknown", "malformed"):
            client = Client(enforce_csrf_checks=True)
            client.get(f"/p/{dead_links['expired']}/")  # a CSRF cookie from a real form
            csrf = client.cookies["csrftoken"].value
            response = client.post(
                f"/p/{dead_links[case]}/",
                {"contact": estimate.customer.email, "csrfmiddlewaretoken": csrf},
            )
            assert response.status_code == 404, case
            body = response.content.decode()
            assert "on its way" not in body and "Thank you" not in body, case
    assert mail.outbox == []


def test_fresh_link_form_requires_csrf(dead_links):
    response = Client(enforce_csrf_checks=True).post(
        f"/p/{dead_links['expired']}/", {"contact": "x@example.com"}
    )
    assert response.status_code == 403


@override_settings(PORTAL_INVALID_LINK_LIMIT=100_000)
def test_unknown_tokens_take_the_same_time(dead_links, capsys):
    """Median response times of unknown and malformed tokens, interleaved, and of the lookup
    for all four cases (revoked and expired pages say what they are, so their time need not
    match: they load their business); printed for the report."""
    client = Client()
    samples = {case: [] for case in dead_links}
    # The two unknown kinds alternate on their own: a revoked or expired page (which loads its
    # business) just before one of them would leave it its garbage to collect and skew the pair.
    for group in (UNKNOWN, tuple(case for case in dead_links if case not in UNKNOWN)):
        for _ in range(150):
            for case in group:
                start = time.perf_counter()
                client.get(f"/p/{dead_links[case]}/")
                samples[case].append(time.perf_counter() - start)
    medians = {case: statistics.median(values) * 1000 for case, values in samples.items()}
    lookups = {case: [] for case in dead_links}
    for _ in range(1000):
        for case, token in dead_links.items():
            start = time.perf_counter()
            resolve(token)
            lookups[case].append(time.perf_counter() - start)
    lookup_us = {case: statistics.median(values) * 1e6 for case, values in lookups.items()}
    with capsys.disabled():
        print("\ndead-link response median ms:", {k: round(v, 3) for k, v in medians.items()})
        print("dead-link lookup median µs:", {k: round(v, 1) for k, v in lookup_us.items()})
    unknown = [medians[case] for case in UNKNOWN]
    assert max(unknown) - min(unknown) < 0.15 * min(unknown)
    assert max(lookup_us.values()) - min(lookup_us.values()) < 0.15 * min(lookup_us.values())


@override_settings(PORTAL_INVALID_LINK_LIMIT=5, PORTAL_INVALID_LINK_WINDOW=600)
def test_invalid_attempts_are_rate_limited_per_ip(estimate_link):
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(5):
        assert attacker.get(f"/p/{new_token()}/").status_code == 404
    blocked = attacker.get(f"/p/{new_token()}/")
    assert blocked.status_code == 429 and blocked["Retry-After"] == "600"
    assert blocked["Cache-Control"] == "no-store"
    # Another address is unaffected.
    other = Client(REMOTE_ADDR="198.51.100.8")
    assert other.get(f"/p/{new_token()}/").status_code == 404


@override_settings(PORTAL_INVALID_LINK_LIMIT=5, PORTAL_INVALID_LINK_WINDOW=600)
def test_a_valid_link_keeps_working_from_an_address_that_tripped_the_limit(estimate_link):
    """A customer behind the same office NAT (or proxy) as a scanner still opens their link."""
    shared = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(8):
        shared.get(f"/p/{new_token()}/")
    assert shared.get(f"/p/{new_token()}/").status_code == 429
    response = shared.get(f"/p/{estimate_link.token}/", follow=True)
    assert response.status_code == 200
    assert estimate_link.link.estimate.display_number in response.content.decode()
    # …and its valid requests are not counted: misses are still refused, not reset.
    assert shared.get(f"/p/{new_token()}/").status_code == 429


@override_settings(PORTAL_INVALID_LINK_LIMIT=3, PORTAL_INVALID_LINK_WINDOW=600)
def test_ipv6_clients_are_counted_per_64_network():
    """Hopping between addresses of one /64 (any host can) does not reset the count."""
    for n in range(3):
        Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}").get(f"/p/{new_token()}/")
    same_64 = Client(REMOTE_ADDR="2001:db8:1:2:ffff:eeee:dddd:cccc")
    assert same_64.get(f"/p/{new_token()}/").status_code == 429
    other_64 = Client(REMOTE_ADDR="2001:db8:1:3::1")
    assert other_64.get(f"/p/{new_token()}/").status_code == 404


def test_ip_buckets():
    from crewcommand.lib.http import ip_bucket

    assert ip_bucket("203.0.113.5") == "203.0.113.5"
    assert ip_bucket("2001:db8:1:2::1") == ip_bucket("2001:db8:1:2:abcd::9") == "2001:db8:1:2::/64"
    assert ip_bucket("::ffff:203.0.113.5") == "203.0.113.5"
    assert ip_bucket(None) == ip_bucket("not an ip") == "unknown"


@override_settings(PORTAL_INVALID_LINK_LIMIT=3, TRUSTED_PROXY_COUNT=1)
def test_the_limit_uses_the_forwarded_address_behind_a_trusted_proxy():
    for n in range(3):
        Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5").get(f"/p/bad{n}/")
    assert (
        Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5").get("/p/x/").status_code
        == 429
    )
    assert (
        Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.6").get("/p/x/").status_code
        == 404
    )


@override_settings(PORTAL_INVALID_LINK_LIMIT=3, TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_a_forged_forwarded_header_is_ignored():
    """With TRUSTED_PROXY_COUNT=0 a client can't dodge the limit by inventing addresses."""
    for n in range(3):
        Client(REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").get(f"/p/bad{n}/")
    forged = Client(REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="192.0.2.77")
    assert forged.get("/p/x/").status_code == 429


def test_revoking_a_link_stops_it_at_once(phone, estimate_link):
    assert phone.get(f"/p/{estimate_link.token}/", follow=True).status_code == 200
    services.link_revoke(link=estimate_link.link, actor=Actor.system())
    assert phone.get(f"/p/{estimate_link.token}/").status_code == 404
