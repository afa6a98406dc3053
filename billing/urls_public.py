"""Public billing URLs (no login, no portal token), mounted at the site root:

- ``/pay/<attempt>/…`` (namespace ``checkout``): the pages Stripe Checkout sends customers back
  to (see ``billing.views_public``);
- ``/webhooks/…`` (namespace ``billing_webhooks``): provider webhooks.
"""

from __future__ import annotations

from django.urls import include, path

from billing import views_public

checkout_patterns = [
    path("<pid:payment_id>/done/", views_public.checkout_done, name="done"),
    path("<pid:payment_id>/status/", views_public.checkout_status, name="status"),
    path("<pid:payment_id>/cancelled/", views_public.checkout_cancelled, name="cancelled"),
]

webhook_patterns = [
    path("stripe/", views_public.stripe_webhook, name="stripe"),
]

urlpatterns = [
    path("pay/", include((checkout_patterns, "checkout"))),
    path("webhooks/", include((webhook_patterns, "billing_webhooks"))),
]
