from __future__ import annotations

from django.contrib import admin

from booking.models import BookingSettings, ServiceRequest, ServiceRequestPhoto
from crewcommand.admin import ReadOnlyAdmin


@admin.register(BookingSettings)
class BookingSettingsAdmin(admin.ModelAdmin):
    list_display = ["company", "enabled", "opens_at", "closes_at", "updated_at"]
    search_fields = ["company__name", "company__slug"]
    raw_id_fields = ["company"]


class PhotoInline(admin.TabularInline):
    model = ServiceRequestPhoto
    extra = 0
    can_delete = False
    fields = ["public_id", "file", "width", "height", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ReadOnlyAdmin):
    """Requests change only through booking.services (converted or dismissed, with activity)."""

    list_display = ["public_id", "company", "name", "service", "status", "source", "created_at"]
    list_filter = ["status", "source"]
    search_fields = ["public_id", "company__name", "name", "email", "phone"]
    inlines = [PhotoInline]


@admin.register(ServiceRequestPhoto)
class ServiceRequestPhotoAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "request", "width", "height", "created_at"]
