"""Customer pages of booking, mounted by the root URLconf under ``/p/`` next to the portal's
own (namespace ``booking_portal``), so every path is ``/p/<token>/request/…``."""

from __future__ import annotations

from django.urls import path

from booking import views_portal

app_name = "booking_portal"

urlpatterns = [
    path("<str:token>/request/", views_portal.request_service, name="request"),
    path("<str:token>/request/sent/", views_portal.request_sent, name="sent"),
]
