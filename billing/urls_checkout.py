"""The pages Stripe Checkout sends customers back to, under ``/pay/<attempt>/``. No portal
token in these URLs: see ``billing.views_portal``."""

from __future__ import annotations

from django.urls import path

from billing import views_portal

app_name = "checkout"

urlpatterns = [
    path("<pid:payment_id>/done/", views_portal.checkout_done, name="done"),
    path("<pid:payment_id>/status/", views_portal.checkout_status, name="status"),
    path("<pid:payment_id>/cancelled/", views_portal.checkout_cancelled, name="cancelled"),
]
