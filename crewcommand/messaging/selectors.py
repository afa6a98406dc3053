"""Reads for the message log and a customer's message history (company-scoped)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from crewcommand.models import Channel, Company, Customer, Message, MessageStatus


def message_list(*, company: Company, status: str = "", channel: str = "") -> QuerySet[Message]:
    rows = Message.objects.filter(company=company).select_related("customer")
    if status in MessageStatus.values:
        rows = rows.filter(status=status)
    if channel in Channel.values:
        rows = rows.filter(channel=channel)
    return rows.order_by("-created_at", "-id")


def message_get(*, company: Company, public_id: str) -> Message:
    return get_object_or_404(
        Message.objects.select_related("customer"), company=company, public_id=public_id
    )


def customer_messages(*, customer: Customer, limit: int = 20) -> list[Message]:
    return list(
        Message.objects.filter(company_id=customer.company_id, customer=customer).order_by(
            "-created_at", "-id"
        )[:limit]
    )
