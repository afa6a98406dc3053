"""Contractor pages for booking, under ``/app/requests/``: the inbox of service requests (new,
converted, dismissed), a request's page with its convert and dismiss forms, its photos, and
the owner's booking settings. Thin: access → form → one service call → render or redirect."""

from __future__ import annotations

import mimetypes

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from booking import selectors, services
from booking.forms import NEW_CUSTOMER, BookingSettingsForm, ConvertForm, DismissForm
from booking.models import RequestStatus, ServiceRequest
from crewcommand.access import ContractorRequest, member_required
from crewcommand.errors import ServiceError
from crewcommand.lib.listing import paginate
from crewcommand.models import Customer


@member_required
@require_safe
def inbox(request: ContractorRequest) -> HttpResponse:
    status = request.GET.get("status", RequestStatus.NEW)
    if status not in RequestStatus.values:
        status = RequestStatus.NEW
    rows = selectors.inbox(company=request.company, status=status)
    context = {
        "page": paginate(request, rows),
        "status": status,
        "statuses": RequestStatus.choices,
        "counts": selectors.counts(company=request.company),
        "booking_url": selectors.booking_url(request.company),
    }
    return render(request, "booking/inbox.html", context)


def _detail(
    request: ContractorRequest,
    service_request: ServiceRequest,
    *,
    convert: ConvertForm | None = None,
    dismiss: DismissForm | None = None,
    status: int = 200,
) -> HttpResponse:
    matches = selectors.matching_customers(request=service_request)
    if convert is None:
        convert = ConvertForm(matches=matches, initial={"title": service_request.service})
    context = {
        "req": service_request,
        "matches": matches,
        "convert_form": convert,
        "dismiss_form": dismiss or DismissForm(),
    }
    return render(request, "booking/request_detail.html", context, status=status)


@member_required
@require_safe
def request_detail(request: ContractorRequest, request_id: str) -> HttpResponse:
    service_request = selectors.request_get(company=request.company, public_id=request_id)
    return _detail(request, service_request)


@member_required(action="request.convert")
@require_POST
def request_convert(request: ContractorRequest, request_id: str) -> HttpResponse:
    service_request = selectors.request_get(company=request.company, public_id=request_id)
    matches = selectors.matching_customers(request=service_request)
    form = ConvertForm(request.POST, matches=matches)
    if form.is_valid():
        chosen = form.cleaned_data["customer"]
        customer: Customer | None = None
        if chosen != NEW_CUSTOMER:
            customer = next(c for c in matches if c.public_id == chosen)
        try:
            job = services.request_convert(
                request=service_request,
                member=request.member,
                customer=customer,
                title=form.cleaned_data["title"],
            )
        except ServiceError as error:
            messages.error(request, str(error))
            return redirect("booking:request_detail", request_id=request_id)
        messages.success(request, _("Job created from the request."))
        return redirect(job)
    return _detail(request, service_request, convert=form)


@member_required(action="request.dismiss")
@require_POST
def request_dismiss(request: ContractorRequest, request_id: str) -> HttpResponse:
    service_request = selectors.request_get(company=request.company, public_id=request_id)
    form = DismissForm(request.POST)
    if form.is_valid():
        try:
            services.request_dismiss(
                request=service_request, member=request.member, reason=form.cleaned_data["reason"]
            )
        except ServiceError as error:
            messages.error(request, str(error))
            return redirect("booking:request_detail", request_id=request_id)
        messages.success(request, _("Request dismissed."))
        return redirect("booking:inbox")
    return _detail(request, service_request, dismiss=form)


@member_required
@require_safe
def request_photo(request: ContractorRequest, request_id: str, photo_id: str) -> HttpResponse:
    photo = selectors.photo_get(company=request.company, request_id=request_id, photo_id=photo_id)
    try:
        handle = photo.file.open("rb")
    except OSError:
        raise Http404 from None
    content_type = mimetypes.guess_type(photo.file.name)[0] or "image/jpeg"
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@member_required(action="booking.settings")
@require_http_methods(["GET", "POST"])
def booking_settings(request: ContractorRequest) -> HttpResponse:
    row = selectors.settings_for(company=request.company)
    form = BookingSettingsForm(request.POST or None, instance=row)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            services.settings_update(company=request.company, member=request.member, fields=fields)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Booking page saved."))
            return redirect("booking:page_settings")
    timezone.activate(request.company.timezone)
    context = {"form": form, "booking_url": selectors.booking_url(request.company)}
    return render(request, "booking/settings.html", context)
