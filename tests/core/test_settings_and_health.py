"""Settings fail loudly; production refuses insecure configuration; /healthz reports."""

from __future__ import annotations

import os
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
