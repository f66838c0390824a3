"""The public intake form (no account needed) and the officers' action forms."""

from django import forms
from django.contrib.auth import get_user_model

from inventory.registry import registry

from . import policy
from .models import DenialBasis, Regime, RequesterKind, RequestType, VerificationLevel, VerificationMethod

PUBLIC_TYPES = [c for c in RequestType.choices]
PUBLIC_REGIMES = [
    (Regime.GDPR, "I live in the EU/EEA or the UK (GDPR)"),
    (Regime.CCPA, "I am a California resident (CCPA/CPRA)"),
    (Regime.CAL_1798_83, "California 'Shine the Light' (Civ. Code §1798.83): the notice, or opt out"),
    (Regime.COPPA, "It concerns a child's data (COPPA)"),
    (Regime.OTHER, "Somewhere else / not sure"),
]


class IntakeForm(forms.Form):
    """What a person fills in on the public page. `website` is a honeypot: people never see it."""

    request_type = forms.ChoiceField(label="What would you like us to do?", choices=PUBLIC_TYPES)
    regime = forms.ChoiceField(label="Where do you live?", choices=PUBLIC_REGIMES)
    subject_email = forms.EmailField(
        label="Email address we hold for the person concerned",
        help_text="We send a confirmation link to this address to check it is yours.",
    )
    subject_name = forms.CharField(label="Full name", max_length=200, required=False)
    subject_phone = forms.CharField(
        label="Telephone (optional, helps us verify you)", max_length=40, required=False
    )
    description = forms.CharField(
        label="Details", widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=5000
    )
    requester_kind = forms.ChoiceField(
        label="Who is making this request?", choices=RequesterKind.choices, initial=RequesterKind.SUBJECT
    )
    requester_name = forms.CharField(label="Your name (agent or parent)", max_length=200, required=False)
    requester_email = forms.EmailField(label="Your email (agent or parent)", required=False)
    authority_document = forms.CharField(
        label="Your authority (agent: signed permission; parent: how you are the child's parent)",
        max_length=200,
        required=False,
    )
    signed_declaration = forms.BooleanField(
        label="I declare under penalty of perjury under the laws of California that I am the person whose "
        "data is requested, or authorised to act for them (California residents asking for specific data).",
        required=False,
    )
    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def clean(self):
        data = super().clean()
        kind = data.get("requester_kind")
        if kind in (RequesterKind.AGENT, RequesterKind.PARENT):
            for name, message in (
                ("requester_name", "Give your name as the agent or parent."),
                ("requester_email", "Give your email address as the agent or parent."),
                ("authority_document", "Tell us what shows your authority to act for the person."),
            ):
                if not data.get(name):
                    self.add_error(name, message)
        request_type, regime = data.get("request_type"), data.get("regime")
        if request_type == RequestType.NOTICE_1798_83 and regime != Regime.CAL_1798_83:
            self.add_error(
                "regime", "The California 1798.83 notice is asked for with 'California Shine the Light' only."
            )
        elif (
            request_type
            and regime
            and (problem := policy.regime_error(request_type=request_type, regime=regime))
        ):
            self.add_error("regime", problem)
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))


class DenyForm(forms.Form):
    basis = forms.ChoiceField(choices=DenialBasis.choices)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}), help_text="Sent to the requester."
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username"),
        required=False,
        help_text="Empty = unassign.",
    )


class ManualVerifyForm(forms.Form):
    method = forms.ChoiceField(
        choices=[
            (VerificationMethod.PHONE, VerificationMethod.PHONE.label),
            (VerificationMethod.MAIL, VerificationMethod.MAIL.label),
            (VerificationMethod.IN_PERSON, VerificationMethod.IN_PERSON.label),
        ]
    )
    level = forms.ChoiceField(
        choices=[c for c in VerificationLevel.choices if c[0] != VerificationLevel.NONE]
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="How identity was checked (which data points matched), without copying them here.",
    )


class FeeForm(forms.Form):
    amount = forms.DecimalField(max_digits=8, decimal_places=2, min_value=0)
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        required=False,
        help_text="GDPR Art. 12(5): why the request is manifestly unfounded or excessive. Required for a fee.",
    )


class LookbackForm(forms.Form):
    since = forms.DateField(help_text="CCPA: earliest 2022-01-01 (§1798.130(a)(2)(B)).")


class AuthorityForm(forms.Form):
    document = forms.CharField(max_length=200, help_text="Reference of the permission or proof checked.")


class RectificationForm(forms.Form):
    model_label = forms.ChoiceField(choices=())
    field_name = forms.CharField(max_length=100)
    record_id = forms.IntegerField(
        required=False, help_text="Empty = every record of the subject in that model."
    )
    value = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_label"].choices = [(e.label, f"{e.label} ({e.category})") for e in registry]
