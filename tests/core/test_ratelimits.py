"""Brute-force limits on login (ours and the admin's), password reset and signup: per client
address and per account, with a friendly 429 page, and no answer that tells whether an address
has an account. Counts live in the real cache (Redis when REDIS_URL is set)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from crewcommand.models import Company

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
RATES = {
    "login_ip": "5/15m",
    "login_account": "3/15m",
    "password_reset_ip": "4/h",
    "password_reset_address": "2/h",
    "signup_ip": "4/h",
    "signup_address": "2/h",
}
limits = override_settings(AUTH_RATE_LIMITS=RATES)


def _client(n: int) -> Client:
    return Client(REMOTE_ADDR=f"198.51.100.{n}")


def _login(client: Client, username: str, password: str, url: str = "/accounts/login/"):
    return client.post(url, {"username": username, "password": password})


def _assert_friendly_429(response, words: str) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body = response.content.decode()
    assert "Too many attempts" in body and words in body
    assert 'class="public-header"' in body  # the app's own layout, not a bare error


@limits
def test_many_addresses_against_one_account_are_stopped(owner):
    username = owner.user.username
    for n in range(3):
        assert _login(_client(n), username, "wrong").status_code == 200
    # The right password from a fresh address is refused too: it isn't even checked.
    refused = _login(_client(50), username, PASSWORD)
    _assert_friendly_429(refused, "logging in is paused")
    assert "_auth_user_id" not in _client(50).session
    # The account's name in another case is the same account.
    assert _login(_client(51), username.upper(), PASSWORD).status_code == 429


@limits
def test_one_address_against_many_accounts_is_stopped(owner, office):
    attacker = _client(7)
    for n in range(5):
        assert _login(attacker, f"victim{n}@example.com", "guess").status_code == 200
    _assert_friendly_429(_login(attacker, office.user.username, PASSWORD), "paused")
    # Other addresses and the accounts themselves are unaffected.
    assert _login(_client(8), office.user.username, PASSWORD).status_code == 302


@limits
def test_an_ipv6_client_cannot_reset_its_count_by_changing_address(owner):
    for n in range(5):
        client = Client(REMOTE_ADDR=f"2001:db8:7:7::{n + 1:x}")
        _login(client, f"someone{n}@example.com", "guess")
    same_64 = Client(REMOTE_ADDR="2001:db8:7:7:1234::1")
    assert _login(same_64, owner.user.username, PASSWORD).status_code == 429


@limits
def test_successful_logins_are_not_counted(owner):
    for _ in range(6):
        client = _client(9)
        assert _login(client, owner.user.username, PASSWORD).status_code == 302


@limits
def test_the_admin_login_has_the_same_limits(django_user_model):
    staff = django_user_model.objects.create_user(
        "root@example.com", "root@example.com", PASSWORD, is_staff=True, is_superuser=True
    )
    for n in range(3):
        assert _login(_client(n), staff.username, "wrong", "/admin/login/").status_code == 200
    _assert_friendly_429(_login(_client(60), staff.username, PASSWORD, "/admin/login/"), "paused")
    for n in range(5):
        _login(_client(70), f"admin{n}", "guess", "/admin/login/")
    assert _login(_client(70), "other", "guess", "/admin/login/").status_code == 429


def _reset(client: Client, email: str, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("password_reset"), {"email": email})


@limits
def test_password_reset_mail_is_limited_per_address_and_answers_the_same_for_anyone(
    owner, django_capture_on_commit_callbacks
):
    answers = set()
    for n in range(4):
        for email in (owner.user.email, "nobody@example.com"):
            response = _reset(_client(n), email, django_capture_on_commit_callbacks)
            answers.add((response.status_code, response["Location"]))
    assert answers == {(302, reverse("password_reset_done"))}
    assert [m.to for m in mail.outbox] == [[owner.user.email]] * 2


@limits
def test_password_reset_is_limited_per_address_of_the_client(
    owner, django_capture_on_commit_callbacks
):
    client = _client(3)
    for n in range(4):
        _reset(client, f"someone{n}@example.com", django_capture_on_commit_callbacks)
    refused = _reset(client, owner.user.email, django_capture_on_commit_callbacks)
    _assert_friendly_429(refused, "password reset requests")
    assert mail.outbox == []


SIGNUP = {
    "company_name": "Northern Lights Electric",
    "province": "AB",
    "full_name": "Nora North",
    "email": "nora@example.com",
}


def _signup(client: Client, data: dict, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("signup"), data)


@limits
def test_signup_mail_is_limited_per_address(owner, django_capture_on_commit_callbacks):
    for n in range(4):
        for email in ("nora@example.com", owner.user.email):
            response = _signup(
                _client(n), {**SIGNUP, "email": email}, django_capture_on_commit_callbacks
            )
            assert response["Location"] == reverse("signup_sent")
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        ["nora@example.com"] * 2 + [owner.user.email] * 2
    )
    assert Company.objects.count() == 1


@limits
def test_signup_is_limited_per_address_of_the_client(django_capture_on_commit_callbacks):
    client = _client(4)
    for n in range(4):
        _signup(
            client, {**SIGNUP, "email": f"n{n}@example.com"}, django_capture_on_commit_callbacks
        )
    refused = _signup(client, SIGNUP, django_capture_on_commit_callbacks)
    _assert_friendly_429(refused, "sign-ups")
    assert len(mail.outbox) == 4


def test_the_default_limits_are_in_force(owner):
    """Without overrides: the settings' own rates (10 failures per account in 15 minutes)."""
    for n in range(10):
        _login(_client(n), owner.user.username, "wrong")
    assert _login(_client(99), owner.user.username, PASSWORD).status_code == 429


@limits
def test_a_password_reset_lifts_the_accounts_login_lockout(
    owner, django_capture_on_commit_callbacks
):
    username = owner.user.username
    for n in range(3):
        _login(_client(n), username, "wrong")
    assert _login(_client(20), username, PASSWORD).status_code == 429

    # The owner resets their password through the emailed link, like a real user would.
    _reset(_client(21), owner.user.email, django_capture_on_commit_callbacks)
    link = re.search(r"https?://[^/\s]+(/accounts/password-reset/\S+/\S+/)", mail.outbox[0].body)
    browser = _client(21)
    form_page = browser.get(link.group(1), follow=True)
    assert form_page.status_code == 200 and "new_password1" in form_page.content.decode()
    new = "a-brand-new-password-2027"
    done = browser.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert done["Location"] == reverse("password_reset_complete")

    assert _login(_client(22), username, new).status_code == 302
