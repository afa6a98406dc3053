"""Contractor pages for booking, mounted under ``/app/requests/`` (namespace ``booking``)."""

from __future__ import annotations

from django.urls import path

from booking import views

app_name = "booking"

req = "<pid:request_id>/"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("settings/", views.booking_settings, name="page_settings"),
    path(req, views.request_detail, name="request_detail"),
    path(f"{req}convert/", views.request_convert, name="request_convert"),
    path(f"{req}dismiss/", views.request_dismiss, name="request_dismiss"),
    path(f"{req}photos/<pid:photo_id>/", views.request_photo, name="request_photo"),
]
