from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from crewcommand.management.commands.seed_demo import DEMO_EMAIL, DEMO_PASSWORD
from crewcommand.models import Company, Customer, Job, Member, Role

pytestmark = pytest.mark.django_db

PROJECT_APPS = {
    "crewcommand",
    "documents",
    "portal",
    "billing",
    "automations",
    "booking",
    "reviews",
}


def test_every_project_model_is_registered_in_the_admin():
    missing = [
        model.__name__
        for model in apps.get_models()
        if model._meta.app_label in PROJECT_APPS and model not in admin.site._registry
    ]
    assert not missing


def test_staff_can_open_every_changelist(admin_client, job):
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url, {"q": "x"}).status_code == 200, url
    del model_admin


def test_activity_is_read_only_in_the_admin(admin_client, owner_client, customer):
    from crewcommand.models import Activity

    owner_client.post(
        reverse("dashboard:job_create"),
        {"customer": customer.public_id, "title": "T", "status": "requested"},
    )
    activity = Activity.objects.first()
    url = reverse("admin:crewcommand_activity_change", args=[activity.pk])
    assert admin_client.post(url, {"verb": "hacked"}).status_code == 403


def test_seed_demo_is_idempotent(capsys, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    counts = (Company.objects.count(), Customer.objects.count(), Job.objects.count())
    call_command("seed_demo")
    assert (Company.objects.count(), Customer.objects.count(), Job.objects.count()) == counts
    out = capsys.readouterr().out
    assert "dashboard: http" in out and "login: owner@demo.crewcommand.ca" in out
    assert Company.objects.get(slug="demo")


def test_seed_demo_owner_is_a_company_owner_never_staff(capsys, settings):
    settings.DEBUG = True
    User = get_user_model()
    # An older seed_demo made the demo owner a superuser: running it again demotes them.
    User.objects.create_superuser(DEMO_EMAIL, DEMO_EMAIL, "old-password")
    call_command("seed_demo")
    owner = User.objects.get(username=DEMO_EMAIL)
    assert not owner.is_staff and not owner.is_superuser
    assert Member.objects.get(user=owner).role == Role.OWNER
    out = capsys.readouterr().out
    assert f"login: {DEMO_EMAIL} / {DEMO_PASSWORD}" in out and "createsuperuser" in out
    client = Client()
    assert client.login(username=DEMO_EMAIL, password=DEMO_PASSWORD)
    assert client.get(reverse("dashboard:home")).status_code == 200
    admin_page = client.get(reverse("admin:index"))
    assert admin_page.status_code == 302 and "/admin/login/" in admin_page["Location"]


def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--allow-production"):
        call_command("seed_demo")
    assert not Company.objects.exists()
    assert not get_user_model().objects.exists()


def test_seed_demo_with_allow_production_gives_a_random_password(capsys, settings):
    settings.DEBUG = False
    call_command("seed_demo", allow_production=True)
    captured = capsys.readouterr()
    assert "Warning" in captured.err
    line = next(x for x in captured.out.splitlines() if x.startswith("login: "))
    password = line.split(" / ", 1)[1]
    assert password != DEMO_PASSWORD and len(password) >= 16
    owner = get_user_model().objects.get(username=DEMO_EMAIL)
    assert owner.check_password(password) and not owner.check_password(DEMO_PASSWORD)
    assert not owner.is_staff and not owner.is_superuser


def test_manage_py_seed_demo_exits_non_zero_under_production_settings(tmp_path):
    """What an operator sees running it on the compose stack without the flag."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "x7Rq2LmN9vB4kT8pW3sY6dF1hJ5gZ0cXeA-_uIoPnM2bV7qL9kR4tS8wY1",
        "ALLOWED_HOSTS": "crew.example.ca",
        "SITE_URL": "https://crew.example.ca",
        "SIGNATURE_SEAL_KEY": "s3Al-k9Vq2LmN8vB4kT7pW3sY6dF1hJ5gZ0cXe",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "CREWCOMMAND_TESTING": "false",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--allow-production" in result.stderr
    assert "login:" not in result.stdout
