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
            "subject_fr",
            "body_fr",
        ]
        labels = {
            "subject": _("Email subject (English)"),
            "body": _("Message (English)"),
            "subject_fr": _("Email subject (French)"),
            "body_fr": _("Message (French)"),
        }
        widgets = {
            "wait": forms.NumberInput(attrs={"min": 0, "max": 24 * 3650}),
            "body": forms.Textarea(attrs={"rows": 5, "maxlength": MAX_BODY}),
            "body_fr": forms.Textarea(attrs={"rows": 5, "maxlength": MAX_BODY, "lang": "fr-CA"}),
            "subject_fr": forms.TextInput(attrs={"lang": "fr-CA"}),
        }
        help_texts = {
            "wait": _(
                "After N days for follow-ups and overdue invoices, N hours before a job for "
                "reminders; for the other triggers, an optional delay (0: at once)."
            ),
            "subject": _("Email only. Variables work here too."),
            "subject_fr": _("Email only. Variables work here too."),
            "kind": _(
                "Transactional: about work the customer asked for (estimates, invoices, "
                "receipts, appointments). Commercial: reviews, rebooking, promotions; sent only "
                "with the customer's consent, with an unsubscribe link."
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        valid = " ".join("{" + name + "}" for name in templating.VARIABLES)
        for name in ("body", "body_fr"):
            self.fields[name].help_text = _("Variables you can use: %(valid)s") % {"valid": valid}
            self.fields[name].max_length = MAX_BODY

    @property
    def language_fields(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        """Each language's fields, for the editor's two columns: (code, label, fields)."""
        return [
            ("en", str(_("English")), [self["subject"], self["body"]]),
            ("fr", str(_("French")), [self["subject_fr"], self["body_fr"]]),
        ]

    @property
    def missing_languages(self) -> list[str]:
        """The languages with no message (``"en"``, ``"fr"``) as the form has them now, valid
        or not: the editor warns about each."""
        if self.is_bound:
            bodies = {"en": self.data.get("body", ""), "fr": self.data.get("body_fr", "")}
        else:
            bodies = {"en": self.instance.body, "fr": self.instance.body_fr}
        return [code for code, body in bodies.items() if not str(body).strip()]

    def clean_name(self) -> str:
        return clean_text(self.cleaned_data["name"])

    def _clean_subject(self, name: str) -> str:
        subject = clean_text(self.cleaned_data[name])
        templating.validate(subject)
        return subject

    def clean_subject(self) -> str:
        return self._clean_subject("subject")

    def clean_subject_fr(self) -> str:
        return self._clean_subject("subject_fr")

    def _clean_body(self, name: str) -> str:
        body = clean_text(self.cleaned_data[name], multiline=True)
        templating.validate(body)
        return body

    def clean_body(self) -> str:
        return self._clean_body("body")

    def clean_body_fr(self) -> str:
        return self._clean_body("body_fr")

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
        if "body" in data and "body_fr" in data and not data["body"] and not data["body_fr"]:
            self.add_error("body", ValidationError(_("Write the message."), code="required"))
        texts = "".join(data.get(name, "") for name in ("body", "subject", "body_fr", "subject_fr"))
        secret = {"portal_link", "payment_link", "review_link"}
        wait_days = (data.get("wait") or 0) / (24 if data.get("wait_unit") == "hours" else 1)
        used_secret = secret & set(templating.used(texts))
        if trigger not in TIMED_TRIGGERS and wait_days > 90 and used_secret:
            # The outbox keeps messages with secret links sealed, and drops them past 90 days.
            self.add_error(
                "wait",
                _("Links to the customer's documents can wait at most 90 days; shorten the wait."),
            )
        if trigger:
            for field, texts in (
                ("body", data.get("body", "") + data.get("subject", "")),
                ("body_fr", data.get("body_fr", "") + data.get("subject_fr", "")),
            ):
                if field not in data:
                    continue
                for name in templating.used(texts):
                    if name in NEEDS and trigger not in NEEDS[name]:
                        self.add_error(
                            field,
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
