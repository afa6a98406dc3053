"""Customer payment pages, mounted by the root URLconf under ``/p/`` next to the portal's own
(namespace ``billing_portal``: ``billing_portal:pay_invoice`` …), so every path is
``/p/<token>/pay/…``. ``PortalMiddleware`` has resolved the token before any of these runs."""

from __future__ import annotations

from django.urls import path

from billing import views_portal

app_name = "billing_portal"

pay = "<str:token>/pay/"

urlpatterns = [
    path(pay, views_portal.pay_link, name="pay"),
    path(f"{pay}card/", views_portal.saved_card, name="saved_card"),
    path(f"{pay}invoices/<pid:invoice_id>/", views_portal.pay_invoice, name="pay_invoice"),
    path(f"{pay}deposits/<pid:estimate_id>/", views_portal.pay_deposit, name="pay_deposit"),
    # Return URLs of Checkout Sessions made before they stopped carrying the token: they
    # redirect to /pay/<attempt>/… (sessions live an hour; these can go after that).
    path(f"{pay}<pid:payment_id>/done/", views_portal.pay_done, name="pay_done"),
    path(f"{pay}<pid:payment_id>/cancelled/", views_portal.pay_cancelled, name="pay_cancelled"),
]
