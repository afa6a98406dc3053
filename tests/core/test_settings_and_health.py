"""Settings fail loudly; production refuses insecure configuration; /healthz reports."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from crewcommand.lib import env

ROOT = Path(__file__).resolve().parents[2]
PROD = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3,
    "SIGNATURE_SEAL_KEY": "s3al-" + "z9y8x7w6v5u4t3s2r1q0" * 2,
    "ALLOWED_HOSTS": "crew.example.ca",
    "SITE_URL": "https://crew.example.ca",
    "EMAIL_URL": "smtp://mailer:secret@smtp.example.ca:587",
    "SECURE_HSTS_PRELOAD": "true",
    "CREWCOMMAND_TESTING": "false",
}


def _manage(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
    environ = {
        k: v for k, v in os.environ.items() if k not in PROD and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**environ, **extra_env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("helper", "value"),
    [(env.env_bool, "maybe"), (env.env_int, "ten"), (env.env_url, "ftp://x")],
)
def test_env_helpers_fail_loudly(monkeypatch, helper, value):
    monkeypatch.setenv("SOME_VAR", value)
    with pytest.raises(ImproperlyConfigured, match="SOME_VAR"):
        helper("SOME_VAR", *([] if helper is env.env_url else [1]))


def test_env_int_minimum(monkeypatch):
    monkeypatch.setenv("N", "-3")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env.env_int("N", 1, minimum=0)


def test_production_refuses_to_start_without_a_real_secret_key():
    result = _manage("check", **{**PROD, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("seal_key", ["", "short", "k3y-" + "a1b2c3d4e5f6g7h8i9j0" * 3])
def test_production_refuses_to_start_without_its_own_signature_seal_key(seal_key):
    result = _manage("check", **{**PROD, "SIGNATURE_SEAL_KEY": seal_key})
    assert result.returncode != 0
    assert "SIGNATURE_SEAL_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "change-me-to-a-long-random-value-change-me-to-a-long-random",  # the old compose default
        "collectstatic-only-build-key-not-secret-000000000000000000",  # the old Dockerfile key
        "django-insecure-q8$w!z2-k4m7p#r9t1v3x5y7b0d2f4h6j8l0n2p4r6t8",  # startproject's shape
        "CHANGEME-please-put-a-real-secret-key-in-here-before-going-live",
        "ab" * 40,  # long, but only two distinct characters
        "short-Xy7Q",
    ],
)
def test_production_refuses_published_and_placeholder_secret_keys(key):
    result = _manage("check", **{**PROD, "SECRET_KEY": key})
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a long random value" in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        secrets.token_urlsafe(50),
        secrets.token_hex(32),  # 64 hex digits: only 16 distinct characters, still 256 bits
        "ci-"
        + base64.b64encode(secrets.token_bytes(48)).decode().translate({43: "", 47: "", 61: ""}),
    ],
    # Named by kind, not by the random value: every pytest-xdist worker must collect the same ids.
    ids=["token_urlsafe", "token_hex", "ci-base64"],
)
def test_random_secret_keys_pass_the_guard(key):
    assert env.secret_key_problem(key) == ""


def test_compose_requires_a_secret_key_and_ships_no_default():
    compose = (ROOT / "docker-compose.yml").read_text()
    lines = [
        line.strip() for line in compose.splitlines() if line.strip().startswith("SECRET_KEY:")
    ]
    assert lines == ["SECRET_KEY: ${SECRET_KEY:?set SECRET_KEY in .env, see .env.example}"]
    assert "change-me" not in compose


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in [".env", ".venv/", ".git/", "db.sqlite3", "media/", "staticfiles/"]:
        assert entry in ignored, entry
    assert "SECRET_KEY=collectstatic" not in (ROOT / "Dockerfile").read_text()


def test_check_deploy_warns_that_the_console_mailer_prints_secret_links():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", **{**PROD, "EMAIL_URL": "console://"}
    )
    assert result.returncode != 0
    assert "crewcommand.W002" in result.stdout + result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _manage("check", **{**PROD, "ALLOWED_HOSTS": ""})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_check_deploy_passes_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PROD)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_security_headers_on_every_page(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
