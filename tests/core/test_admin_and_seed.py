from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from crewcommand.models import Company, Customer, Job

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


def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    counts = (Company.objects.count(), Customer.objects.count(), Job.objects.count())
    call_command("seed_demo")
    assert (Company.objects.count(), Customer.objects.count(), Job.objects.count()) == counts
    out = capsys.readouterr().out
    assert "dashboard: http" in out and "login: owner@demo.crewcommand.ca" in out
    assert Company.objects.get(slug="demo")
