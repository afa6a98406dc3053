"""The company's Stripe Connect account: linking, onboarding (Account Links), options."""

from __future__ import annotations

import logging
from typing import Any, cast

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import stripe_client
from billing.models import (
    PAYMENT_OPTION_FIELDS,
    StripeAccount,
)
from billing.selectors import (
    stripe_account_for,
)
from crewcommand.errors import ServiceError
from crewcommand.lib import activity
from crewcommand.lib.activity import Actor
from crewcommand.models import Company

logger = logging.getLogger(__name__)


def _account_row(company: Company) -> StripeAccount:
    account, _created = StripeAccount.objects.select_for_update().get_or_create(company=company)
    return account


def stripe_account_link(*, company: Company, account_id: str, actor: Actor) -> StripeAccount:
    """Connect an existing Stripe account by its id, after Stripe confirms it exists."""
    account_id = account_id.strip()
    if not account_id.startswith("acct_") or len(account_id) > 64:
        raise ServiceError(_("A Stripe account ID starts with acct_."))
    try:
        data = stripe_client.account_retrieve(account=account_id)
    except stripe_client.StripeFailure as error:
        if error.permanent:
            raise ServiceError(
                _("Stripe does not know that account, or it is not connected to CrewCommand.")
            ) from error
        raise ServiceError(_("Stripe did not answer. Please try again.")) from error
    return _account_save(company=company, data=data, actor=actor)


def _account_save(*, company: Company, data: dict[str, Any], actor: Actor) -> StripeAccount:
    with transaction.atomic():
        if StripeAccount.objects.filter(account_id=data["id"]).exclude(company=company).exists():
            raise ServiceError(_("That Stripe account is connected to another business."))
        account = _account_row(company)
        new = account.account_id != data["id"]
        account.account_id = data["id"]
        account.charges_enabled = bool(data.get("charges_enabled"))
        account.details_submitted = bool(data.get("details_submitted"))
        if new:
            account.connected_at = timezone.now()
            account.connected_by = actor.user
        account.save()
        if new:
            activity.record(
                company=company,
                verb="stripe.connected",
                actor=actor,
                target=account,
                data={"account": account.account_id},
            )
        return account


def stripe_onboarding_start(
    *, company: Company, actor: Actor, refresh_url: str, return_url: str
) -> str:
    """Create (once) a Standard connected account for the company and return a Stripe-hosted
    onboarding link for it (Account Links). The link expires within minutes: make a new one each
    time the owner asks."""
    account = stripe_account_for(company=company)
    if account is None or not account.account_id:
        try:
            data = stripe_client.account_create(
                email=company.email, idempotency_key=f"cc-account-{company.public_id}"
            )
        except stripe_client.StripeFailure as error:
            raise ServiceError(_("Stripe did not answer. Please try again.")) from error
        account = _account_save(company=company, data=data, actor=actor)
    try:
        link = stripe_client.account_link_create(
            account=cast(str, account.account_id), refresh_url=refresh_url, return_url=return_url
        )
    except stripe_client.StripeFailure as error:
        raise ServiceError(_("Stripe did not answer. Please try again.")) from error
    return link["url"]


def stripe_account_refresh(*, company: Company, actor: Actor) -> StripeAccount | None:
    account = stripe_account_for(company=company)
    if account is None or not account.account_id:
        return account
    try:
        data = stripe_client.account_retrieve(account=account.account_id)
    except stripe_client.StripeFailure as error:
        raise ServiceError(_("Stripe did not answer. Please try again.")) from error
    return _account_save(company=company, data=data, actor=actor)


def stripe_account_update(*, account_id: str, data: dict[str, Any]) -> None:
    """``account.updated`` from Stripe: keep whether the account can take charges."""
    StripeAccount.objects.filter(account_id=account_id).update(
        charges_enabled=bool(data.get("charges_enabled")),
        details_submitted=bool(data.get("details_submitted")),
        updated_at=timezone.now(),
    )


def stripe_disconnect(*, company: Company, actor: Actor) -> None:
    with transaction.atomic():
        account = _account_row(company)
        if not account.account_id:
            return
        account.account_id = None
        account.charges_enabled = account.details_submitted = False
        account.connected_at = None
        account.save()
        activity.record(company=company, verb="stripe.disconnected", actor=actor, target=account)


def stripe_options_update(
    *, company: Company, actor: Actor, fields: dict[str, Any]
) -> StripeAccount:
    with transaction.atomic():
        account = _account_row(company)
        for name in PAYMENT_OPTION_FIELDS:
            if name in fields:
                setattr(account, name, fields[name])
        account.full_clean(exclude=["company", "account_id"])
        account.save()
        activity.record(company=company, verb="stripe.options_updated", actor=actor, target=account)
        return account
