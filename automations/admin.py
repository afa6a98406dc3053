from __future__ import annotations

from django.contrib import admin

from automations.models import Automation, AutomationRun
from crewcommand.admin import ReadOnlyAdmin


@admin.register(Automation)
class AutomationAdmin(ReadOnlyAdmin):
    """Automations are edited from the dashboard (its form checks the variables); staff read
    them here."""

    list_display = ["name", "company", "trigger", "wait", "wait_unit", "channel", "enabled"]
    list_filter = ["trigger", "channel", "enabled"]
    search_fields = ["name", "company__name"]
    list_select_related = ["company"]


@admin.register(AutomationRun)
class AutomationRunAdmin(ReadOnlyAdmin):
    list_display = ["automation", "object_kind", "object_id", "occurrence", "outcome", "created_at"]
    list_filter = ["outcome", "object_kind"]
    list_select_related = ["automation"]
