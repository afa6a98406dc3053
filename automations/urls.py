"""Contractor pages for automations under /app/automations/ (namespace ``automations``)."""

from __future__ import annotations

from django.urls import path

from automations import views

app_name = "automations"

urlpatterns = [
    path("", views.automation_list, name="list"),
    path("new/", views.automation_new, name="new"),
    path("preview/", views.automation_preview, name="preview"),
    path("<pid:automation_id>/", views.automation_detail, name="detail"),
    path("<pid:automation_id>/save/", views.automation_save, name="save"),
    path("<pid:automation_id>/toggle/", views.automation_toggle, name="toggle"),
]
