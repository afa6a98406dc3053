"""Signup, invitations, login and password reset."""

from __future__ import annotations

import re

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from crewcommand.errors import ServiceError
from crewcommand.models import Company, Invitation, Member, Role

pytestmark = pytest.mark.django_db

SIGNUP = {
    "company_name": "Northern Lights Electric",
    "province": "AB",
    "full_name": "Nora North",
    "email": "Nora@Example.com",
}
PASSWORD = "a-long-unusual-password"


def _signup(client, data=SIGNUP) -> str:
    """Post step one; return the path of the link in the mail it sent (or "")."""
    from django.test import TestCase

    sent = len(mail.outbox)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("signup"), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("signup_sent")
    if len(mail.outbox) == sent:
        return ""
    found = re.search(r"https?://[^/\s]+(/signup/confirm/\S+/)", mail.outbox[-1].body)
    return found.group(1) if found else ""


def test_signup_mails_a_link_that_creates_company_and_owner_and_logs_in(client):
    path = _signup(client)
    assert mail.outbox[-1].to == ["nora@example.com"]
    assert not Member.objects.exists()  # nothing is made before the mailbox answers
    assert "Northern Lights Electric" in client.get(path).content.decode()
    response = client.post(path, {"password": PASSWORD})
    assert response.status_code == 302
    member = Member.objects.select_related("company", "user").get()
    assert member.role == Role.OWNER
    assert member.company.slug == "northern-lights-electric"
    assert member.user.email == "nora@example.com"
    assert client.get(reverse("dashboard:home")).status_code == 200
    # The link works once.
    client.logout()
    assert "already has a CrewCommand account" in client.get(path).content.decode()
    assert Company.objects.count() == 1


def test_signup_has_no_province_until_one_is_chosen(client):
    """A contractor who skips the province must not be charged Alberta's GST-only by default."""
    body = client.get(reverse("signup")).content.decode()
    select = re.search(r'<select name="province"[^>]*>(.*?)</select>', body, re.S)
    assert select, body
    options = re.findall(r"<option[^>]*>", select.group(1))
    assert options[0] == '<option value="" selected>'
    assert "Choose a province</option>" in select.group(1)
    assert sum("selected" in option for option in options) == 1
    assert re.search(r'<select name="province"[^>]*required', body)


@pytest.mark.parametrize(
    ("province", "message"),
    [
        ("", "Choose your province: it sets the sales taxes on your invoices."),
        ("ZZ", "Choose your province from the list."),
    ],
)
def test_signup_without_a_province_is_a_form_error_and_sends_nothing(client, province, message):
    response = client.post(reverse("signup"), {**SIGNUP, "province": province})
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body.replace("&#x27;", "'")
    assert 'id="id_province_error"' in body
    assert not mail.outbox
    assert not Company.objects.exists()


def test_signup_refuses_weak_passwords_and_forged_links(client):
    path = _signup(client)
    response = client.post(path, {"password": "12345678"})
    body = response.content.decode()
    assert "too common" in body or "entirely numeric" in body
    assert not Member.objects.exists()
    forged = reverse("signup_confirm", args=[signing.dumps(SIGNUP, salt="other")])
    assert client.get(forged).status_code == 404


def test_signup_with_a_registered_email_answers_the_same_and_mails_the_owner(client, owner):
    """The form can't be used to learn who has an account: same redirect, same page; the
    address's owner gets a note instead of a link, and nothing is created."""
    fresh = Client().post(reverse("signup"), {**SIGNUP, "email": "fresh@example.com"})
    taken = Client().post(reverse("signup"), {**SIGNUP, "email": owner.user.email.upper()})
    assert (fresh.status_code, fresh["Location"]) == (taken.status_code, taken["Location"])
    assert _signup(client, {**SIGNUP, "email": owner.user.email.upper()}) == ""
    note = mail.outbox[-1]
    assert note.to == [owner.user.email.lower()]
    assert "tried to create a CrewCommand account" in note.body
    assert "/accounts/password-reset/" in note.body and "/accounts/login/" in note.body
    assert Company.objects.count() == 1


def test_company_slugs_stay_unique(client):
    client.post(_signup(client), {"password": PASSWORD})
    client.logout()
    client.post(_signup(client, {**SIGNUP, "email": "other@example.com"}), {"password": PASSWORD})
    assert set(Company.objects.values_list("slug", flat=True)) == {
        "northern-lights-electric",
        "northern-lights-electric-2",
    }


def _invite(owner_client, email="tech@example.com", role="technician"):
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(reverse("dashboard:team"), {"email": email, "role": role})
    assert response.status_code == 302
    link = re.search(r"http://\S+/invite/\S+/", mail.outbox[-1].body).group(0)
    return link.removeprefix("http://testserver").split("://", 1)[-1].split("/", 1)[-1]


def test_owner_invites_a_member_who_joins_with_a_new_account(
    owner_client, client, company, settings
):
    path = "/" + _invite(owner_client)
    assert mail.outbox[-1].to == ["tech@example.com"]
    assert settings.SITE_URL in mail.outbox[-1].body
    response = client.post(path, {"full_name": "Tess Tech", "password": "another-long-password"})
    assert response.status_code == 302
    member = Member.objects.get(user__email="tech@example.com")
    assert member.company == company and member.role == Role.TECHNICIAN
    # The link works once.
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("12345678", "entirely numeric"),
        ("tessandra", "too similar"),
        ("jolly-technician", "similar"),
    ],
)
def test_an_invitee_s_password_follows_the_signup_rule(owner_client, client, password, message):
    """One password rule for signup and invitations: also not like the invitee's own email
    address or name (signup checked that; the invitation form did not)."""
    path = "/" + _invite(owner_client, email="jolly-technician@example.com")
    response = client.post(path, {"full_name": "Tessandra Tech", "password": password})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Member.objects.filter(user__email="jolly-technician@example.com").exists()


def test_forged_expired_and_revoked_invitations_are_refused(owner_client, client, monkeypatch):
    path = "/" + _invite(owner_client)
    invitation = Invitation.objects.get()
    forged = reverse("invitation_accept", args=[signing.dumps(invitation.public_id, salt="other")])
    assert client.get(forged).status_code == 404
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() + 8 * 86400)
    assert client.get(path).status_code == 404  # older than 7 days
    monkeypatch.undo()
    assert client.get(path).status_code == 200
    owner_client.post(reverse("dashboard:invitation_revoke", args=[invitation.public_id]))
    assert client.get(path).status_code == 404


def test_inviting_an_existing_member_is_refused(owner_client, owner):
    response = owner_client.post(
        reverse("dashboard:team"), {"email": owner.user.email, "role": "office"}
    )
    assert "already on your team" in response.content.decode()
    assert not Invitation.objects.exists()


def test_login_and_logout(client, owner):
    response = client.post(
        reverse("login"), {"username": owner.user.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("dashboard:home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("dashboard:home")).status_code == 302


def test_the_login_field_is_labelled_email(client):
    body = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">Email' in body
    assert "Username" not in body
    assert 'type="email"' in body and 'autocomplete="username"' in body


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        # An account made before signup lower-cased addresses, typed in lower case.
        ("Etienne@CoteFils.example", "etienne@cotefils.example"),
        ("Etienne@CoteFils.example", "  ETIENNE@cotefils.EXAMPLE "),
        # An account stored in lower case, typed the way a phone capitalises it.
        ("etienne@cotefils.example", "Etienne@CoteFils.example"),
    ],
)
def test_login_matches_the_email_in_any_case(client, company, django_user_model, stored, typed):
    user = django_user_model.objects.create_user(stored, stored, "correct-horse-battery")
    Member.objects.create(user=user, company=company, role=Role.OWNER)
    response = client.post(
        reverse("login"), {"username": typed, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("dashboard:home")).status_code == 200


def test_login_refuses_a_wrong_password_or_unknown_email_with_a_clear_message(client, owner):
    for username, password in [
        (owner.user.email.upper(), "wrong-password"),
        ("nobody@example.com", "correct-horse-battery"),
        (owner.user.email, "CORRECT-HORSE-BATTERY"),  # the password keeps its case
    ]:
        response = client.post(reverse("login"), {"username": username, "password": password})
        assert response.status_code == 200
        assert "don&#x27;t match an account" in response.content.decode()
    assert client.get(reverse("dashboard:home")).status_code == 302


def test_accounts_differing_only_in_case_each_sign_in_with_their_own_password(
    client, django_user_model
):
    """Old rows may hold the same address twice in different case: the password decides."""
    django_user_model.objects.create_user("a@example.com", "a@example.com", "first-password-1")
    second = django_user_model.objects.create_user("A@Example.com", "A@Example.com", "second-pw-2")
    client.post(reverse("login"), {"username": "a@EXAMPLE.com", "password": "second-pw-2"})
    assert int(client.session["_auth_user_id"]) == second.pk


def test_the_admin_login_matches_the_email_in_any_case(client, django_user_model):
    django_user_model.objects.create_superuser("Staff@Example.com", "Staff@Example.com", "pw-1234")
    page = client.get(reverse("admin:login")).content.decode()
    assert ">Email:</label>" in page
    # A text input: the admin's form has no novalidate, and "admin" must be typeable.
    assert '<input type="text" name="username"' in page
    response = client.post(
        reverse("admin:login"),
        {"username": "staff@example.com", "password": "pw-1234", "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_an_inactive_account_cannot_log_in_in_any_case(client, owner):
    owner.user.is_active = False
    owner.user.save()
    response = client.post(
        reverse("login"),
        {"username": owner.user.email.upper(), "password": "correct-horse-battery"},
    )
    assert response.status_code == 200
    assert client.get(reverse("dashboard:home")).status_code == 302


def test_password_reset_finds_a_mixed_case_account_from_any_case(
    client, company, django_user_model, django_capture_on_commit_callbacks
):
    user = django_user_model.objects.create_user(
        "Etienne@CoteFils.example", "Etienne@CoteFils.example", "pw"
    )
    Member.objects.create(user=user, company=company, role=Role.OWNER)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("password_reset"), {"email": "etienne@COTEFILS.example"})
    assert mail.outbox[-1].to == [user.email]  # the address on file, as stored
    assert "/accounts/password-reset/" in mail.outbox[-1].body


def test_signup_with_a_mixed_case_registered_email_mails_the_owner(
    client, company, django_user_model
):
    user = django_user_model.objects.create_user("Nora@Example.COM", "Nora@Example.COM", "pw")
    Member.objects.create(user=user, company=company, role=Role.OWNER)
    assert _signup(client, {**SIGNUP, "email": "nora@example.com"}) == ""
    assert "tried to create a CrewCommand account" in mail.outbox[-1].body


def test_an_invitation_to_a_mixed_case_address_is_refused_for_an_existing_account_in_any_case(
    owner_client, django_user_model
):
    from crewcommand import services

    django_user_model.objects.create_user("Crew@Example.com", "Crew@Example.com", "pw")
    invitation = Invitation.objects.create(
        company=Member.objects.get().company, email="CREW@example.com", role=Role.OFFICE
    )
    with pytest.raises(ServiceError, match="An account with this email exists"):
        services.invitation_accept(
            invitation=invitation, user=None, full_name="Crew", password="a-long-pass-123"
        )


def test_password_reset_link_is_built_from_site_url_not_host(
    client, owner, settings, django_capture_on_commit_callbacks
):
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("password_reset"),
            {"email": owner.user.email},
            headers={"Host": "evil.example"},
        )
    body = mail.outbox[-1].body
    assert "evil.example" not in body
    assert f"{settings.SITE_URL}/accounts/password-reset/" in body


def test_another_signed_in_user_cannot_take_someone_elses_invitation(
    owner_client, outsider, company
):
    """An invitation is for the invited address, not for whoever holds the link."""
    from django.test import Client

    path = "/" + _invite(owner_client, email="tech@example.com")
    stranger = Client()
    stranger.force_login(outsider.user)  # signed in as someone else (who has a company)
    page = stranger.get(path)
    assert page.status_code == 403
    assert "This invitation was sent to tech@example.com" in page.content.decode()
    response = stranger.post(path)
    assert response.status_code == 403
    assert not Member.objects.filter(company=company, user=outsider.user).exists()
    assert Invitation.objects.get().accepted_at is None
    outsider.refresh_from_db()
    assert outsider.company != company


def test_a_signed_in_user_without_a_company_but_another_email_is_refused(
    owner_client, company, django_user_model
):
    from django.test import Client

    path = "/" + _invite(owner_client, email="tech@example.com")
    loner = django_user_model.objects.create_user("loner@example.com", "loner@example.com", "pw")
    client = Client()
    client.force_login(loner)
    assert client.post(path).status_code == 403
    assert not Member.objects.filter(user=loner).exists()
    assert Invitation.objects.get().accepted_at is None


def test_the_invited_user_signed_in_joins_whatever_the_case_of_their_email(
    owner_client, company, django_user_model
):
    from django.test import Client

    path = "/" + _invite(owner_client, email="Tech@Example.com")
    user = django_user_model.objects.create_user("tech", "TECH@example.COM", "pw")
    client = Client()
    client.force_login(user)
    assert client.post(path).status_code == 302
    assert Member.objects.get(user=user).company == company


def test_the_service_refuses_a_user_with_another_email(owner, django_user_model):
    from crewcommand import services

    invitation = services.invitation_create(
        company=owner.company, by=owner.user, email="tech@example.com", role="technician"
    )
    other = django_user_model.objects.create_user("o", "other@example.com", "pw")
    with pytest.raises(ServiceError, match=re.escape("tech@example.com")):
        services.invitation_accept(invitation=invitation, user=other, full_name="", password=None)
    assert not Member.objects.filter(user=other).exists()


def test_signup_links_are_redacted_from_logs():
    from crewcommand.lib.logging import redact

    token = "eyJlbWFpbCI6Im5vcmFAZXhhbXBsZS5jb20ifQ:1abc:signature"
    line = f'"GET /signup/confirm/{token}/ HTTP/1.1" 200'
    assert token not in redact(line)
    assert "/signup/confirm/[redacted]/" in redact(line)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_submitted_signup_makes_one_company_and_no_error_page(live_server):
    """Four posts of the emailed link's form at once (a double-click, a retry): one account,
    and every other answer is the form with a message, never a 500."""
    import threading

    import requests

    from crewcommand.services import signup_token

    token = signup_token(
        email="race@example.com", company_name="Race Co", province="ON", full_name="Ray Race"
    )
    url = live_server.url + reverse("signup_confirm", args=[token])
    session = requests.Session()
    session.get(url, timeout=30)
    data = {"csrfmiddlewaretoken": session.cookies["csrftoken"], "password": PASSWORD}
    answers: list[int] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        barrier.wait()
        response = session.post(
            url, data=data, headers={"Referer": url}, allow_redirects=False, timeout=30
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 500 not in answers and answers.count(302) == 1, answers
    assert Company.objects.filter(name="Race Co").count() == 1
