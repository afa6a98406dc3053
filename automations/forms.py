"""The automation editor's form, and the preview's choice of customer."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from automations import templating
from automations.models import TIMED_TRIGGERS, Automation, Channel, Trigger
from portal.forms import clean_text

# Variables that only have a value for some triggers: using one elsewhere would make every
# message of the automation be skipped, so the editor says so instead.
_DOCUMENT_TRIGGERS = {
    Trigger.ESTIMATE_SENT,
    Trigger.ESTIMATE_UNANSWERED,
    Trigger.ESTIMATE_ACCEPTED,
    Trigger.INVOICE_SENT,
    Trigger.INVOICE_OVERDUE,
    Trigger.PAYMENT_RECEIVED,
}
_INVOICE_TRIGGERS = {Trigger.INVOICE_SENT, Trigger.INVOICE_OVERDUE, Trigger.PAYMENT_RECEIVED}
NEEDS: dict[str, set[str]] = {
    "document_number": _DOCUMENT_TRIGGERS,
    "amount_due": _INVOICE_TRIGGERS,
    "due_date": _INVOICE_TRIGGERS,
    "payment_link": _INVOICE_TRIGGERS,
    "job_date": {Trigger.JOB_SCHEDULED, Trigger.JOB_REMINDER},
}

MAX_BODY = 1600


class AutomationForm(forms.ModelForm):
    class Meta:
        model = Automation
        fields = [
            "name",
            "enabled",
            "trigger",
            "wait",
            "wait_unit",
            "channel",
            "recipient",
            "kind",
            "subject",
            "body",
        ]
        widgets = {
            "wait": forms.NumberInput(attrs={"min": 0, "max": 24 * 3650}),
            "body": forms.Textarea(attrs={"rows": 5, "maxlength": MAX_BODY}),
        }
        help_texts = {
            "wait": _(
                "After N days for follow-ups and overdue invoices, N hours before a job for "
                "reminders; for the other triggers, an optional delay (0: at once)."
            ),
            "subject": _("Email only. Variables work here too."),
            "kind": _(
                "Transactional: about work the customer asked for (estimates, invoices, "
                "receipts, appointments). Commercial: reviews, rebooking, promotions; sent only "
                "with the customer's consent, with an unsubscribe link."
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        valid = " ".join("{" + name + "}" for name in templating.VARIABLES)
        self.fields["body"].help_text = _("Variables you can use: %(valid)s") % {"valid": valid}
        self.fields["body"].max_length = MAX_BODY

    def clean_name(self) -> str:
        return clean_text(self.cleaned_data["name"])

    def clean_subject(self) -> str:
        subject = clean_text(self.cleaned_data["subject"])
        templating.validate(subject)
        return subject

    def clean_body(self) -> str:
        body = clean_text(self.cleaned_data["body"], multiline=True)
        if not body:
            raise ValidationError(_("Write the message."), code="required")
        templating.validate(body)
        return body

    def clean_wait(self) -> int:
        wait = self.cleaned_data["wait"]
        if wait > 24 * 3650:
            raise ValidationError(_("At most 10 years."), code="max_value")
        return wait

    def clean(self) -> dict:
        data = super().clean()
        trigger = data.get("trigger")
        if trigger in TIMED_TRIGGERS and data.get("wait") == 0:
            self.add_error("wait", _("Say how long: at least 1."))
        secret = {"portal_link", "payment_link", "review_link"}
        wait_days = (data.get("wait") or 0) / (24 if data.get("wait_unit") == "hours" else 1)
        used_secret = secret & set(templating.used(data.get("body", "") + data.get("subject", "")))
        if trigger not in TIMED_TRIGGERS and wait_days > 90 and used_secret:
            # The outbox keeps messages with secret links sealed, and drops them past 90 days.
            self.add_error(
                "wait",
                _("Links to the customer's documents can wait at most 90 days; shorten the wait."),
            )
        if trigger and "body" in data:
            for name in templating.used(data["body"] + data.get("subject", "")):
                if name in NEEDS and trigger not in NEEDS[name]:
                    self.add_error(
                        "body",
                        _("{%(name)s} has no value for “%(trigger)s”; remove it.")
                        % {"name": name, "trigger": Trigger(trigger).label},
                    )
        return data


class ToggleForm(forms.Form):
    enabled = forms.TypedChoiceField(
        choices=[("1", _("On")), ("0", _("Off"))],
        coerce=lambda value: value == "1",
        widget=forms.HiddenInput,
    )


def channel_sends_email(channel: str) -> bool:
    return channel != Channel.SMS
