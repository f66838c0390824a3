"""The officer's gate before a package leaves the building (issue 14 item 15).

With REQUESTS_RELEASE_NEEDS_APPROVAL (the default), an access/portability package or a §1798.83 notice
is prepared by the fulfilment task and the case waits in "waiting for officer approval"; nothing is
mailed until an officer approves it from the case page, after seeing a preview
(`selectors.release_preview`). This module only parks the case; `release.py` approves.
"""

from core.actors import Actor

from .. import conf
from ..models import CaseEvent, PrivacyRequest, Status
from ..workflow import case_event, transition


def release_awaits_approval(*, case: PrivacyRequest, actor: Actor, summary: str) -> bool:
    """Park the case for approval when the setting asks for it; True when parked (nothing sent)."""
    if not conf.release_needs_approval():
        return False
    transition(case, Status.AWAITING_APPROVAL, actor=actor, summary=summary[:300])
    case_event(
        case=case,
        kind=CaseEvent.Kind.FULFILMENT,
        summary="Nothing sent yet: an officer approves the release from the case page",
        actor=actor,
    )
    return True
