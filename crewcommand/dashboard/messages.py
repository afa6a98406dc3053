"""Composition: the message log (/app/messages/), a message's page, and the customer page's
"send a message" form."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crewcommand import selectors
from crewcommand.access import ContractorRequest, member_required
from crewcommand.dashboard.views import customer_context
from crewcommand.errors import ServiceError
from crewcommand.lib.activity import Actor
from crewcommand.lib.listing import render_list
from crewcommand.messaging import selectors as message_selectors
from crewcommand.messaging import services as message_services
from crewcommand.messaging.forms import MessageForm
from crewcommand.models import Channel, MessageStatus


@member_required
@require_GET
def message_list(request: ContractorRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    channel = request.GET.get("channel", "")
    status = status if status in MessageStatus.values else ""
    channel = channel if channel in Channel.values else ""
    rows = message_selectors.message_list(company=request.company, status=status, channel=channel)
    context = {
        "status": status,
        "channel": channel,
        "statuses": [("", _("All")), *MessageStatus.choices],
        "channels": [("", _("All")), *Channel.choices],
    }
    return render_list(request, "dashboard/message_list.html", rows, context)


@member_required
@require_GET
def message_detail(request: ContractorRequest, message_id: str) -> HttpResponse:
    message = message_selectors.message_get(company=request.company, public_id=message_id)
    return render(request, "dashboard/message_detail.html", {"message": message})


@member_required(action="message.send")
@require_POST
def customer_message(request: ContractorRequest, customer_id: str) -> HttpResponse:
    customer = selectors.customer_get(company=request.company, public_id=customer_id)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            message_services.message_send(
                customer=customer,
                actor=Actor.member(request.user),
                **form.cleaned_data,
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, _("Message queued."))
            return redirect(customer)
    context = {**customer_context(request, customer), "message_form": form}
    return render(request, "dashboard/customer_detail.html", context, status=200)
