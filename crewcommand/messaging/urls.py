from __future__ import annotations

from django.urls import path

from crewcommand.messaging import views

urlpatterns = [
    path("webhooks/twilio/status/", views.twilio_status, name="twilio_status"),
    path("webhooks/twilio/inbound/", views.twilio_inbound, name="twilio_inbound"),
    path("u/<str:token>/", views.unsubscribe, name="messaging_unsubscribe"),
]
