"""The case page's workflow buttons, declared once as data: each drives its button, its URL
(.../<case id>/act/<name>/), its form, its permission and the service it calls (see admin.py)."""

from collections.abc import Callable
from typing import Any, NamedTuple

from django import forms

from . import selectors, services
from .forms import (
    AssignForm,
    AuthorityForm,
    DenyForm,
    FeeForm,
    LookbackForm,
    ManualVerifyForm,
    ReasonForm,
    RectificationForm,
)
from .models import OPEN_STATUSES, PrivacyRequest, Status

OPEN = OPEN_STATUSES
IDENTITY_OPEN = (Status.RECEIVED, Status.VERIFYING, Status.IDENTITY_IN_DOUBT)


class CaseAction(NamedTuple):
    """One workflow button on the case page, declared once: it drives the button, its URL
    (.../<case id>/act/<name>/), its form, its permission and the service it calls."""

    name: str
    label: str
    form: type[forms.Form] | None
    permission: str  # "change", "verify", "fulfil", "deny": PrivacyRequestAdmin.has_<permission>_permission
    statuses: tuple[str, ...] | None  # None: shown whatever the status
    run: Callable[[PrivacyRequest, dict, Any], Any]  # (case, cleaned form data, user) -> service result
    done: Callable[[Any], str]  # the success message, from the service's result
    preview: Callable[[PrivacyRequest], Any] | None = None  # shown above the confirm button


def _said(message: str) -> Callable[[Any], str]:
    return lambda _result: message


CASE_ACTIONS: list[CaseAction] = [
    CaseAction("assign", "Assign", AssignForm, "change", None,
               lambda c, d, u: services.request_assign(case=c, assignee=d.get("assignee"), actor=u),
               _said("Assignment saved.")),
    CaseAction("send_link", "Send verification link", None, "verify", IDENTITY_OPEN,
               lambda c, d, u: services.verification_start(case=c, actor=u),
               _said("Verification link sent.")),
    CaseAction("verify", "Record manual verification", ManualVerifyForm, "verify", IDENTITY_OPEN,
               lambda c, d, u: services.request_verify_manually(
                   case=c, method=d["method"], level=d["level"], reason=d["reason"], actor=u),
               _said("Verification recorded.")),
    CaseAction("authority", "Record agent/parent authority", AuthorityForm, "verify", OPEN,
               lambda c, d, u: services.request_verify_authority(case=c, document=d["document"], actor=u),
               _said("Authority recorded.")),
    CaseAction("doubt", "Identity in doubt", ReasonForm, "verify", (Status.RECEIVED, Status.VERIFYING),
               lambda c, d, u: services.request_mark_identity_in_doubt(case=c, reason=d["reason"], actor=u),
               _said("Case marked 'identity in doubt'.")),
    CaseAction("correction", "Enter a correction", RectificationForm, "fulfil", OPEN,
               lambda c, d, u: services.rectification_add(
                   case=c, model_label=d["model_label"], field_name=d["field_name"],
                   record_id=d.get("record_id"), value=d["value"], actor=u),
               _said("Correction entered; it is applied when the case is fulfilled.")),
    CaseAction("fulfil", "Fulfil", None, "fulfil", (Status.IN_PROGRESS,),
               lambda c, d, u: services.request_fulfil(case=c, actor=u),
               lambda attempt: f"{attempt.get_action_display()} queued."),
    CaseAction("approve_release", "Preview and approve the release", None, "fulfil", (Status.AWAITING_APPROVAL,),
               lambda c, d, u: services.request_release_approve(case=c, actor=u),
               _said("Release approved: the requester is being sent what the preview showed."),
               selectors.release_preview),
    CaseAction("restriction", "Complete restriction", ReasonForm, "fulfil", (Status.IN_PROGRESS,),
               lambda c, d, u: services.request_complete_restriction(case=c, outcome=d["reason"], actor=u),
               _said("Restriction completed; recipients are being told.")),
    CaseAction("hold", "Place legal hold", ReasonForm, "fulfil", None,
               lambda c, d, u: services.request_legal_hold_place(case=c, reason=d["reason"], actor=u),
               _said("Legal hold placed.")),
    CaseAction("release", "Release legal hold", ReasonForm, "fulfil", None,
               lambda c, d, u: services.request_legal_hold_release(case=c, reason=d["reason"], actor=u),
               _said("Legal hold released.")),
    CaseAction("extend", "Extend deadline", ReasonForm, "change", OPEN,
               lambda c, d, u: services.request_extend(case=c, reason=d["reason"], actor=u),
               _said("Deadline extended; the requester is told.")),
    CaseAction("note", "Add note", ReasonForm, "change", None,
               lambda c, d, u: services.request_note_add(case=c, note=d["reason"], actor=u),
               _said("Note added.")),
    CaseAction("fee", "Set a fee (GDPR Art. 12(5))", FeeForm, "change", OPEN,
               lambda c, d, u: services.request_set_fee(
                   case=c, amount=d["amount"], justification=d.get("justification", ""), actor=u),
               _said("Fee recorded.")),
    CaseAction("lookback", "Extend the lookback (CCPA)", LookbackForm, "change", OPEN,
               lambda c, d, u: services.request_set_lookback(case=c, since=d["since"], actor=u),
               _said("Lookback extended; the package will cover the longer period.")),
    CaseAction("deny", "Deny with reason", DenyForm, "deny", OPEN,
               lambda c, d, u: services.request_deny(case=c, basis=d["basis"], reason=d["reason"], actor=u),
               _said("Request denied; the requester is told.")),
    CaseAction("withdraw", "Withdrawn by requester", ReasonForm, "change", OPEN,
               lambda c, d, u: services.request_withdraw(case=c, reason=d["reason"], actor=u),
               _said("Case closed as withdrawn.")),
]  # fmt: skip
CASE_ACTIONS_BY_NAME = {action.name: action for action in CASE_ACTIONS}
