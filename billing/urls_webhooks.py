"""Provider webhooks under /webhooks/ (namespace ``billing_webhooks``)."""

from __future__ import annotations

from django.urls import path

from billing import views

app_name = "billing_webhooks"

urlpatterns = [
    path("stripe/", views.stripe_webhook, name="stripe"),
]
