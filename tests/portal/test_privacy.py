"""After a hundred portal visits, no raw token is in the database or any log line; gunicorn's
access log redacts tokens too. Every secret URL shape (portal, invitation and password reset
links, with doubled slashes, trailing segments, URL-encoding) is redacted from Django's logs,
gunicorn's access log and error mail."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from crewcommand.lib.activity import Actor
from crewcommand.lib.logging import redact
from crewcommand.services import invitation_create, invitation_token
from portal import services
from tests.factories import EstimateFactory, InvoiceFactory
from tests.portal.helpers import accept_data, issue

ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def captured_logs():
    """Everything the configured console handler writes (the handler with the redaction
    filter that Django's request and server loggers use), at DEBUG, SQL included."""
    handler = logging.getLogger("django.request").handlers[0]
    buffer = io.StringIO()
    old_stream = handler.setStream(buffer)
    loggers = [
        logging.getLogger(n)
        for n in ("", "django.request", "django.server", "django.db.backends", "portal")
    ]
    old_levels = [logger.level for logger in loggers]
    db_logger = logging.getLogger("django.db.backends")
    attached = handler not in db_logger.handlers
    if attached:
        db_logger.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    connection.force_debug_cursor = True
    yield buffer
    connection.force_debug_cursor = False
    for logger, level in zip(loggers, old_levels, strict=True):
        logger.setLevel(level)
    if attached:
        db_logger.removeHandler(handler)
    handler.setStream(old_stream)


def _access_log(method: str, path: str, status: int) -> None:
    """What runserver writes for each request (django.core.servers.basehttp)."""
    logging.getLogger("django.server").info('"%s %s HTTP/1.1" %s %s', method, path, status, 0)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_hundred_visits_leave_no_token_in_the_database_or_logs(
    captured_logs, phone, customer, django_capture_on_commit_callbacks
):
    estimate, invoice = EstimateFactory(customer=customer), InvoiceFactory(customer=customer)
    links = [issue(customer), issue(customer, estimate), issue(customer, invoice)]
    with django_capture_on_commit_callbacks(execute=True):
        shared = services.share_document(document=estimate, actor=Actor.system())
    revoked = issue(customer, estimate)
    services.link_revoke(link=revoked.link, actor=Actor.system())
    tokens = [issued.token for issued in [*links, revoked]]
    visits = 0
    one_estimate = links[1].token
    requests = [
        (
            "post",
            reverse("portal:estimate_accept", args=[one_estimate, estimate.public_id]),
            accept_data(estimate),
        )
    ]
    for n in range(13):
        whole, one_estimate, one_invoice = (issued.token for issued in links)
        requests += [
            ("get", reverse("portal:home", args=[whole]), None),
            ("get", reverse("portal:estimate", args=[whole, estimate.public_id]), None),
            (
                "get",
                reverse("portal:estimate_totals", args=[one_estimate, estimate.public_id]),
                None,
            ),
            ("get", reverse("portal:invoice", args=[one_invoice, invoice.public_id]), None),
            ("get", reverse("portal:home", args=[one_estimate]), None),
            ("get", f"/p/{revoked.token}/", None),
            ("get", f"/p/{whole}/estimates/zzzzzzzzzzzzzz/", None),  # 404 inside a valid link
            (
                "post",
                reverse("portal:estimate_changes", args=[one_estimate, estimate.public_id]),
                {"message": f"Question {n}"},
            ),
        ]
    for method, path, data in requests[:100]:
        response = getattr(phone, method)(path, data)
        _access_log(method.upper(), path, response.status_code)
        visits += 1
    assert visits == 100
    logs = captured_logs.getvalue()
    assert "/p/[redacted]/" in logs and "SELECT" in logs
    for token in tokens:
        assert token not in logs
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            for token in tokens:
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s', [f"%{token}%"]
                )
                assert cursor.fetchone()[0] == 0, table
    assert shared.pk


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_access_and_error_logs_redact_tokens(customer, owner_member):
    secrets_, secret_paths = _secrets_and_paths(customer, owner_member)
    estimate = EstimateFactory(customer=customer)
    issued = issue(customer, estimate)
    port = _free_port()
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_POOL": "false",
        "CREWCOMMAND_TESTING": "true",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "crewcommand.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
            "--access-logformat",
            '%(h)s %(t)s "%(r)s" "%(U)s" %(s)s "%(f)s" "%({location}o)s"',
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        paths = [
            f"/p/{issued.token}/",
            f"/p/{issued.token}/estimates/{estimate.public_id}/",
            "/p/unknown-token-abc/",
            *secret_paths,
        ]
        for path in paths:
            request = urllib.request.Request(base + path, headers={"Referer": base + path})
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=5)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert output.count("/p/[redacted]/") >= 6, output
    assert output.count("/accounts/password-reset/[redacted]/") >= 2, output
    assert issued.token not in output and "unknown-token-abc" not in output
    for secret in secrets_:
        assert secret not in output, output
    print(output)


def test_django_security_logs_and_error_mail_redact_tokens(captured_logs, settings, rf, mailoutbox):
    """Django's own loggers (django.security.*, error mail to ADMINS) never carry a token."""
    settings.ADMINS = ["ops@example.com"]
    token = "S3cretTokenValue_abcdefghijklmnopqrstuvwxyz012"
    request = rf.get(f"/p/{token}/estimates/abcdefghijklmn/", HTTP_REFERER=f"https://x/p/{token}/")
    logging.getLogger("django.security.csrf").warning("Forbidden (CSRF): %s", request.path)
    try:
        raise ValueError(f"no route for /p/{token}/")
    except ValueError:
        logging.getLogger("django.request").exception(
            "Internal Server Error: %s",
            request.path,
            extra={"request": request, "status_code": 500},
        )
        logging.getLogger("django.security.DisallowedHost").exception(
            "Invalid host for %s", request.path, extra={"request": request, "status_code": 400}
        )
    logs = captured_logs.getvalue()
    assert "/p/[redacted]/" in logs and token not in logs
    assert mailoutbox, "the error mail was sent"
    for message in mailoutbox:
        assert token not in message.subject + message.body


# --- Every secret URL shape -------------------------------------------------------------------


def _secrets_and_paths(customer, owner) -> tuple[list[str], list[str]]:
    """Live secrets (a portal token, an invitation token, a password reset token) and the odd
    URL shapes they reach the server in."""
    estimate = EstimateFactory(customer=customer)
    portal = issue(customer, estimate).token
    invitation = invitation_create(
        company=customer.company, by=owner.user, email="new@example.com", role="technician"
    )
    invite = invitation_token(invitation)
    uid = urlsafe_base64_encode(force_bytes(owner.user.pk))
    reset = default_token_generator.make_token(owner.user)
    paths = [
        f"/p/{portal}/",
        f"/p//{portal}/",
        f"/p///{portal}/estimates/{estimate.public_id}/",
        f"//p/{portal}/",
        f"/p/{portal}/estimates/{estimate.public_id}/trailing/segments/",
        f"/p/{portal}",  # no trailing slash: a redirect whose Location carries the token
        f"/P/{portal}/",
        f"/%70/{portal}/",  # an encoded "p": Django decodes it and routes to the portal
        f"/p%2F{portal}/",
        f"/p/%2F{portal}/",
        f"/p/./{portal}/",
        f"/accounts/login/?next=%2Fp%2F{portal}%2F",
        f"/healthz?t={portal}",
        f"/invite/{invite}/",
        f"/invite//{invite}/",
        f"/accounts/password-reset/{uid}/{reset}/",  # redirects to …/<uid>/set-password/
        f"/accounts/password-reset//{uid}/{reset}/",
        f"/accounts/password-reset/{uid}/{reset}/extra/",
        f"/accounts/password-reset/{uid}%2F{reset}/",
    ]
    return [portal, invite, reset], paths


@pytest.fixture
def owner_member(customer):
    from tests.factories import MemberFactory

    return MemberFactory(company=customer.company, role="owner")


@pytest.mark.django_db
def test_every_secret_url_shape_is_redacted_from_django_logs(captured_logs, customer, owner_member):
    secrets_, paths = _secrets_and_paths(customer, owner_member)
    statuses = {}
    for path in paths:
        response = Client().get(path, HTTP_REFERER=f"https://crew.example.ca{path}")
        statuses[path] = response.status_code
        _access_log("GET", path, response.status_code)
        if response.has_header("Location"):
            _access_log("GET", response["Location"], 200)
    logs = captured_logs.getvalue()
    assert any(code == 404 for code in statuses.values())  # Django's "Not Found: <path>" ran
    assert "Not Found: " in logs and "[redacted]" in logs
    for secret in secrets_:
        assert secret not in logs
    for path in paths:
        assert not any(secret in redact(path) for secret in secrets_), path
    # Redaction keeps what is useful for debugging.
    assert redact("/accounts/password-reset/done/") == "/accounts/password-reset/done/"
    assert redact("/app/jobs/abcdefghijklmn/") == "/app/jobs/abcdefghijklmn/"


@pytest.mark.django_db
def test_error_mail_redacts_every_secret_url_shape(
    settings, customer, owner_member, rf, mailoutbox
):
    settings.ADMINS = ["ops@example.com"]
    secrets_, paths = _secrets_and_paths(customer, owner_member)
    for path in paths:
        request = rf.get(path, HTTP_REFERER=f"https://crew.example.ca{path}")
        try:
            raise ValueError(f"no route for {path}")
        except ValueError:
            logging.getLogger("django.request").exception(
                "Internal Server Error: %s", path, extra={"request": request, "status_code": 500}
            )
    assert len(mailoutbox) == len(paths)
    for message in mailoutbox:
        text = message.subject + message.body
        assert "[redacted]" in text
        for secret in secrets_:
            assert secret not in text
