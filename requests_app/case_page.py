"""The case page as a workspace: what its header says and how its workflow buttons are grouped.

Kept out of admin.py so the page's content is testable on its own and the admin stays a thin shell.
The buttons are grouped by the stage of the case they belong to, so an officer finds them where the
work is, and they sit in a side panel that never squeezes the case's fields.
"""

from dataclasses import dataclass, field

from django.urls import reverse

from . import deadlines
from .case_actions import CASE_ACTIONS, CaseAction
from .models import PrivacyRequest
from .selectors import due_state

# Stage of each workflow button (by CaseAction.name); the order of STAGES is the order on the page.
STAGES: tuple[str, ...] = ("Identity", "Fulfilment", "Deadline", "Case", "Close")
ACTION_STAGES: dict[str, str] = {
    "send_link": "Identity",
    "verify": "Identity",
    "authority": "Identity",
    "doubt": "Identity",
    "correction": "Fulfilment",
    "fulfil": "Fulfilment",
    "approve_release": "Fulfilment",
    "restriction": "Fulfilment",
    "extend": "Deadline",
    "fee": "Deadline",
    "lookback": "Deadline",
    "assign": "Case",
    "note": "Case",
    "hold": "Case",
    "release": "Case",
    "deny": "Close",
    "withdraw": "Close",
}
DUE_TEXT = {
    "overdue": "overdue",
    "due_soon": "due soon",
    "on_track": "on track",
    "unknown": "no due date",
    "closed": "closed",
}


@dataclass(frozen=True)
class ActionGroup:
    stage: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (url, label)


@dataclass(frozen=True)
class CaseHeader:
    reference: str
    type: str
    regime: str
    status: str
    status_code: str
    due_on: str
    days_left: int | None
    due_state: str
    due_text: str
    assignee: str
    requester: str
    subject_url: str
    subject_label: str


def case_header(case: PrivacyRequest) -> CaseHeader:
    """The facts an officer needs first, in one line: what, under which law, where it stands, by when."""
    # One "today", the business's (as due_state and the deadlines count): UTC's date would call a case
    # "1 day overdue" while its colour still says "due soon" from 16:00 Pacific on.
    today = deadlines.business_today()
    state = due_state(case, today)
    days_left = (case.due_on - today).days if case.due_on else None
    if days_left is None or state == "closed":
        due_text = DUE_TEXT[state]
    elif days_left < 0:
        due_text = f"{-days_left} day{'s' if days_left != -1 else ''} overdue"
    else:
        due_text = f"{days_left} day{'s' if days_left != 1 else ''} left"
    requester = case.requester_name or case.requester_email or "the subject"
    if case.requester_kind != "subject":
        requester = f"{requester} ({case.get_requester_kind_display()})"
    subject = case.subject
    return CaseHeader(
        reference=str(case.reference),
        type=case.get_type_display(),
        regime=case.get_regime_display(),
        status=case.get_status_display(),
        status_code=case.status,
        due_on=case.due_on.isoformat() if case.due_on else "-",
        days_left=days_left,
        due_state=state,
        due_text=due_text,
        assignee=(case.assignee.get_username() if case.assignee_id else "Unassigned"),
        requester=requester,
        subject_url=reverse("admin:inventory_datasubject_change", args=[case.subject_id]),
        subject_label=(subject.email or str(subject)) + (" (erased)" if subject.erased_at else ""),
    )


def action_groups(case: PrivacyRequest, allowed) -> list[ActionGroup]:
    """The buttons this officer may press on this case now, grouped by stage (empty stages left out).

    `allowed(action)` answers whether the officer's role permits the action.
    """
    groups = {stage: ActionGroup(stage) for stage in STAGES}
    for action in CASE_ACTIONS:
        if not _applies(action, case) or not allowed(action):
            continue
        url = reverse("admin:requests_app_privacyrequest_act", args=[case.pk, action.name])
        groups[ACTION_STAGES.get(action.name, "Case")].buttons.append((url, action.label))
    return [group for group in groups.values() if group.buttons]


def _applies(action: CaseAction, case: PrivacyRequest) -> bool:
    return action.statuses is None or case.status in action.statuses
