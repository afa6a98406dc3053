"""Forms for review requests: the company's throttle, and a customer's opt-out."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.forms import MAX_MESSAGE, clean_text
from reviews.models import ReviewSettings


class ReviewSettingsForm(forms.ModelForm):
    class Meta:
        model = ReviewSettings
        fields = ["request_every_days"]
        widgets = {"request_every_days": forms.NumberInput(attrs={"min": 1, "max": 3650})}


class OptOutForm(forms.Form):
    """Sent by the panel's button: "1" records the opt-out, "0" removes it."""

    opted_out = forms.TypedChoiceField(
        choices=[("1", _("Opted out")), ("0", _("Asks welcome"))],
        coerce=lambda value: value == "1",
        widget=forms.HiddenInput,
    )


class FeedbackForm(forms.Form):
    """The customer's optional private note to the company (the Google button stays beside)."""

    message = forms.CharField(
        label=_("Your message to us"),
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def clean_message(self) -> str:
        message = clean_text(self.cleaned_data["message"], multiline=True)
        if not message:
            raise forms.ValidationError(_("Write a short message."))
        return message
