"""The Celery app. Imported from ``crewcommand/__init__.py`` so Django's task class (with
``delay_on_commit``) is installed before any task module is loaded."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewcommand.settings")

app = Celery("crewcommand")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
