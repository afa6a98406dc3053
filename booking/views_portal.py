"""The customer's "Request service" page behind a portal link, ``/p/<token>/request/``
(``PortalMiddleware`` has resolved the token; ``portal_view`` checks it). The form comes
prefilled with the link's customer and their addresses, and the request is tied to them."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from booking import selectors, services
from booking.forms import RequestForm
from booking.models import RequestSource
from booking.views_public import request_in
from crewcommand.errors import ServiceError
from crewcommand.lib.canada import display_phone
from portal import http
from portal.http import PortalRequest
from portal.middleware import PortalContext
from portal.views_portal import portal_view

REQUESTS_PER_HOUR = 5


def _render(request: PortalRequest, portal: PortalContext, template: str, context: dict, **kw):
    return render(request, template, {"portal": portal, "company": portal.company, **context}, **kw)


@portal_view
@require_http_methods(["GET", "POST"])
def request_service(request: PortalRequest, portal: PortalContext) -> HttpResponse:
    customer = portal.customer
    page = selectors.page_from(portal.company)
    addresses = selectors.customer_addresses(customer=customer)
    initial = {
        "name": customer.name,
        "phone": display_phone(customer.phone),
        "email": customer.email,
    }
    kwargs = {"page": page, "today": timezone.localdate(), "addresses": addresses}
    if request.method != "POST":
        form = RequestForm(initial=initial, **kwargs)
        return _render(request, portal, "booking/portal_request.html", {"form": form, "page": page})
    form = RequestForm(request.POST, request.FILES, initial=initial, **kwargs)
    if form.is_valid():
        if http.rate_hit("booking", str(portal.link.pk), window=3600) > REQUESTS_PER_HOUR:
            form.add_error(None, _("Too many requests. Please call us instead."))
        else:
            try:
                services.request_submit(
                    company=portal.company,
                    data=request_in(form),
                    photos=form.cleaned_data.get("photos") or [],
                    source=RequestSource.PORTAL,
                    customer=customer,
                    ip=http.client_ip(request),
                    user_agent=http.user_agent(request),
                )
            except ServiceError as error:
                form.add_error(None, str(error))
            else:
                return redirect("booking_portal:sent", token=portal.token)
    context = {"form": form, "page": page}
    return _render(request, portal, "booking/portal_request.html", context)


@portal_view
@require_safe
def request_sent(request: PortalRequest, portal: PortalContext) -> HttpResponse:
    page = selectors.page_from(portal.company)
    return _render(request, portal, "booking/portal_sent.html", {"page": page})
