"""The officer's "Log a request" form: the public intake form's fields, in the officer's words.

The public page speaks to the person ("Where do you live?", "Your name"); an officer logging a letter or a
call records facts about someone else, and never sees the public page's spam trap.
"""

from django import forms

from .forms import IntakeForm
from .models import Channel, Regime, RequestType

OFFICER_LABELS: dict[str, tuple[str, str]] = {
    # field: (label, help text)
    "request_type": ("Request type", ""),
    "regime": ("Regime", "The law the request is made under; it sets the deadlines."),
    "subject_email": (
        "Subject's email address",
        "The address we hold for the person; the verification link goes there.",
    ),
    "subject_name": ("Subject's name", ""),
    "subject_phone": ("Subject's telephone", "Optional; helps verification."),
    "description": ("What was asked", "In the requester's words, as received."),
    "requester_kind": ("Requester", "The subject, or an authorised agent or parent acting for them."),
    "requester_name": ("Agent's or parent's name", "Only when someone acts for the subject."),
    "requester_email": ("Agent's or parent's email", "Only when someone acts for the subject."),
    "authority_document": ("Authority shown", "Agent: signed permission; parent: proof of parenthood."),
    "signed_declaration": (
        "The requester signed a declaration under penalty of perjury (CCPA specific pieces, 11 CCR §§7060-7062)",
        "",
    ),
    "channel": ("Received by", ""),
    "received_at": ("Received at", "When the request arrived; empty means now. Deadlines run from it."),
    "received_at_designated_address": (
        "Arrived at the designated address",
        "§1798.83(b)(1): 30 days at a designated address, otherwise at most 150.",
    ),
}


class AdminIntakeForm(IntakeForm):
    """Officers log a request that came by email, phone or mail, with the date it arrived."""

    request_type = forms.ChoiceField(choices=RequestType.choices)
    regime = forms.ChoiceField(choices=Regime.choices)
    channel = forms.ChoiceField(choices=[c for c in Channel.choices if c[0] != Channel.WEB])
    received_at = forms.DateTimeField(required=False)
    received_at_designated_address = forms.BooleanField(required=False, initial=True)

    field_order = ["request_type", "regime", "channel", "received_at", "received_at_designated_address"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.pop("website", None)  # the public page's spam trap: officers are not bots
        for name, (label, help_text) in OFFICER_LABELS.items():
            if name in self.fields:
                self.fields[name].label = label
                self.fields[name].help_text = help_text
