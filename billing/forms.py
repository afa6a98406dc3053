"""Forms for payments: manual payments, refunds, the payments filter, Stripe settings and the
customer's choice of amount. Amounts are typed as text and parsed to Decimal (never float)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import (
    MANUAL_METHODS,
    PAYMENT_OPTION_FIELDS,
    TIP_PRESETS,
    PaymentMethod,
    PaymentStatus,
    RefundKind,
    StripeAccount,
)
from billing.selectors import PaymentFilters
from crewcommand.forms import MoneyField, SingleLineCharField
from crewcommand.lib.money import format_cad, quantize_money
from portal.forms import code_field


class ManualPaymentForm(forms.Form):
    amount = MoneyField(label=_("Amount received"))
    method = forms.ChoiceField(
        label=_("How it was paid"),
        choices=[(m.value, m.label) for m in MANUAL_METHODS],
        initial=PaymentMethod.ETRANSFER,
    )
    received_on = forms.DateField(
        label=_("Date received"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reference = SingleLineCharField(
        label=_("Reference"),
        max_length=100,
        required=False,
        help_text=_("Cheque number, e-Transfer reference…"),
    )
    note = SingleLineCharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["received_on"].initial = timezone.localdate()

    def clean_received_on(self) -> dt.date:
        day = self.cleaned_data["received_on"]
        if day > timezone.localdate() + dt.timedelta(days=1):
            raise forms.ValidationError(_("The date received can't be in the future."))
        if day.year < 2000:
            raise forms.ValidationError(_("Enter a date after 2000."))
        return day


class RefundForm(forms.Form):
    amount = MoneyField(label=_("Amount to refund"))
    # No default: what a refund does to the balance is a decision, not a detail.
    kind = forms.ChoiceField(
        label=_("What should happen to the balance?"),
        widget=forms.RadioSelect,
        choices=[
            (
                RefundKind.REVERSAL,
                _(
                    "Reverse the payment: the balance goes back up by this amount "
                    "(paid in error, or work that won't be done)"
                ),
            ),
            (
                RefundKind.GOODWILL,
                _(
                    "Goodwill refund: the balance stays as it is and a paid invoice stays paid "
                    "(recorded as a credit to the customer)"
                ),
            ),
        ],
        error_messages={"required": _("Choose what the refund does to the balance.")},
    )
    reason = SingleLineCharField(
        label=_("Reason"),
        max_length=200,
        required=False,
        help_text=_("For your records; the customer doesn't see it."),
    )


class PaymentFilterForm(forms.Form):
    # Every filter is optional; the "(optional)" marker would only be noise here.
    is_filter = True

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Received and processing")),
            *PaymentStatus.choices,
            ("refunded", _("Refunded")),
        ],
    )
    method = forms.ChoiceField(
        label=_("Method"), required=False, choices=[("", _("Any method")), *PaymentMethod.choices]
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def filters(self) -> PaymentFilters:
        if not self.is_valid():
            return PaymentFilters()
        data = self.cleaned_data
        return PaymentFilters(
            status=data["status"], method=data["method"], start=data["start"], end=data["end"]
        )


class TipsFilterForm(forms.Form):
    is_filter = True

    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def dates(self) -> tuple[dt.date | None, dt.date | None]:
        if not self.is_valid():
            return None, None
        return self.cleaned_data["start"], self.cleaned_data["end"]


class StripeAccountIdForm(forms.Form):
    account_id = forms.CharField(
        label=_("Stripe account ID"),
        max_length=64,
        help_text=_("Starts with acct_. Find it in Stripe under Settings → Account details."),
    )

    def clean_account_id(self) -> str:
        value = self.cleaned_data["account_id"].strip()
        if not value.startswith("acct_") or not value[5:].isalnum():
            raise forms.ValidationError(_("A Stripe account ID looks like acct_1AbCdEfGh."))
        return value


class StripeOptionsForm(forms.ModelForm):
    minimum_partial_amount = MoneyField(label=_("Smallest partial payment"))

    class Meta:
        model = StripeAccount
        fields = list(PAYMENT_OPTION_FIELDS)
        help_texts = {
            "accept_bank_debit": _(
                "Stripe's page also offers Canadian pre-authorized debit from a bank account "
                "and collects the debit agreement. A bank payment takes 3 to 5 business days to "
                "clear; the invoice shows it as processing until then."
            ),
            "bank_debit_transaction_type": _(
                "Personal for homeowners, business for commercial customers: it sets the "
                "wording of the debit agreement."
            ),
            "refund_duplicate_payments": _(
                "If a customer pays an invoice twice by card, give the second payment back "
                "through Stripe at once. Otherwise it waits for you under Payments → Needs attention."
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only asked about once bank debit is on; a form without it keeps what was saved.
        self.fields["bank_debit_transaction_type"].required = False

    def clean_bank_debit_transaction_type(self) -> str:
        value = self.cleaned_data.get("bank_debit_transaction_type")
        return value or self.instance.bank_debit_transaction_type or "personal"

    def clean_minimum_partial_amount(self) -> Decimal:
        amount = self.cleaned_data["minimum_partial_amount"]
        if amount < Decimal("0.50"):
            raise forms.ValidationError(_("Stripe can't charge less than $0.50."))
        return amount


class PaymentMoveForm(forms.Form):
    """Where a misapplied payment goes: one of the customer's other open invoices."""

    to_invoice = forms.ChoiceField(
        label=_("Move it to"),
        error_messages={
            "required": _("Choose the invoice the payment belongs to."),
            "invalid_choice": _("Choose one of this customer's open invoices."),
        },
    )
    reason = SingleLineCharField(
        label=_("Why?"),
        max_length=200,
        required=False,
        help_text=_("For example: the customer paid the wrong invoice."),
    )

    def __init__(self, *args, targets=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_invoice"].choices = [("", _("Choose an invoice"))] + [
            (
                invoice.public_id,
                _("%(number)s · %(balance)s due")
                % {"number": invoice.display_number, "balance": format_cad(invoice.balance)},
            )
            for invoice in targets
        ]


class AutopayForm(forms.Form):
    autopay = forms.BooleanField(
        label=_("Charge this customer's sent invoices to the saved card on their due date"),
        required=False,
    )


class IssueResolveForm(forms.Form):
    resolution = SingleLineCharField(
        label=_("What did you do?"),
        max_length=200,
        required=False,
        help_text=_("For example: applied to invoice INV-0042, or refunded by cheque."),
    )


def tip_for(base: Decimal, percent: int) -> Decimal:
    """A preset tip: ``percent`` of ``base``, to the cent (half up, like every amount here)."""
    return quantize_money(base * percent / 100)


class PayAmountForm(forms.Form):
    """The customer's choice on the pay page: everything due, or part of it where allowed."""

    choice = forms.ChoiceField(
        choices=[("full", _("Pay the full amount")), ("part", _("Pay part of it"))],
        widget=forms.RadioSelect,
        initial="full",
        required=False,
    )
    amount = MoneyField(label=_("Amount to pay"), required=False)
    # The one-time code, when the company asks for one (portal.stepup); checked by the view.
    code = code_field()
    # Asked only while an earlier payment is still being confirmed.
    pay_again = forms.BooleanField(
        label=_("Yes, start a new payment anyway"), required=False, initial=False
    )
    # Offered only where the company takes tips: none, a preset percent, or a custom amount.
    tip = forms.ChoiceField(
        label=_("Add a tip (optional)"),
        choices=[("", _("No tip"))]
        + [(str(p), f"{p} %") for p in TIP_PRESETS]
        + [("custom", _("Other amount"))],
        required=False,
        error_messages={"invalid_choice": _("Choose a tip from the list.")},
    )
    tip_custom = MoneyField(label=_("Tip amount"), required=False)
    # Explicit consent to keep the card for later invoices (and autopay, if the company turns
    # it on): unticked unless the customer ticks it.
    save_card = forms.BooleanField(required=False, initial=False)

    def chosen_tip(self, base: Decimal) -> Decimal:
        """The tip in dollars on ``base`` (the amount paid toward the invoice)."""
        choice = self.cleaned_data.get("tip") or ""
        if choice == "custom":
            return self.cleaned_data.get("tip_custom") or Decimal("0.00")
        if choice.isdigit():
            return tip_for(base, int(choice))
        return Decimal("0.00")

    def chosen_amount(self) -> Decimal | None:
        """None means everything due."""
        if self.cleaned_data.get("choice") != "part":
            return None
        return self.cleaned_data.get("amount")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("choice") == "part" and not data.get("amount"):
            self.add_error("amount", _("Enter the amount you want to pay."))
        if data.get("tip") == "custom":
            custom = data.get("tip_custom")
            if custom is None:
                self.add_error("tip_custom", _("Enter the tip, or choose No tip."))
            elif custom < 0:
                self.add_error("tip_custom", _("A tip can't be negative."))
        return data
