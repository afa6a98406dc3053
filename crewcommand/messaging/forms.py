from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crewcommand.models import Channel


class MessageForm(forms.Form):
    """A message to one customer, by email or text."""

    channel = forms.ChoiceField(
        label=_("Send by"), choices=Channel.choices, widget=forms.RadioSelect, initial="email"
    )
    subject = forms.CharField(
        label=_("Subject"), max_length=200, required=False, help_text=_("Email only.")
    )
    body = forms.CharField(
        label=_("Message"), max_length=1600, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean_subject(self) -> str:
        return " ".join(self.cleaned_data["subject"].split())
