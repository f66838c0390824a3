"""Consent receipts after the Kantara Initiative Consent Receipt Specification v1.1 (2018-02-20).

One receipt per ledger event, built from the event and the purpose it names; the subject appears only
as their public UUID (piiPrincipalId), never their email. Fields outside the specification sit under
"privacyops" (action, channel, policy hash), so a receipt for a withdrawal is still unambiguous.
"""

from typing import Any

from . import conf
from .models import Action, ConsentEvent, LegalBasis

SPEC_VERSION = "KI-CR-v1.1.0"

# Kantara consentType: consent given by a positive act is EXPLICIT; other legal bases are not consent.
_CONSENT_TYPE = {LegalBasis.CONSENT: "EXPLICIT"}


def _termination(event: ConsentEvent) -> str:
    days = event.purpose.consent_lifetime_days
    if days:
        return f"Until withdrawn, at most {days} days after consent was given"
    return "Until withdrawn"


def consent_receipt(event: ConsentEvent) -> dict[str, Any]:
    """The receipt as a JSON-ready dict. Expects `subject`, `purpose` and `policy_version` loaded."""
    purpose = event.purpose
    policy = event.policy_version
    categories = [c.name for c in purpose.data_categories.all()]
    return {
        "version": SPEC_VERSION,
        "jurisdiction": conf.receipt_jurisdiction(),
        "consentTimestamp": int(event.at.timestamp()),
        "collectionMethod": event.get_channel_display()
        + (f" ({event.collection_point})" if event.collection_point else ""),
        "consentReceiptID": str(event.public_id),
        "language": event.language or "en",
        "piiPrincipalId": str(event.subject.public_id),
        "piiControllers": [conf.receipt_controller()],
        "policyUrl": (policy.url if policy and policy.url else conf.default_policy_url()),
        "services": [
            {
                "service": purpose.service,
                "purposes": [
                    {
                        "purpose": purpose.name,
                        "purposeCategory": [purpose.receipt_purpose_category]
                        if purpose.receipt_purpose_category
                        else [],
                        "consentType": _CONSENT_TYPE.get(purpose.legal_basis, "NOT APPLICABLE"),
                        "piiCategory": categories,
                        "primaryPurpose": purpose.required,
                        "termination": _termination(event),
                        "thirdPartyDisclosure": purpose.third_party_disclosure,
                    }
                ],
            }
        ],
        "sensitive": False,  # policy §10: the company does not collect sensitive personal information
        "spiCat": [],
        "privacyops": {
            "action": event.action,
            "withdrawn": event.action == Action.WITHDRAW,
            "suppressed": event.suppressed,
            "channel": event.channel,
            "purposeCode": purpose.code,
            "legalBasis": purpose.legal_basis,
            "recordedAt": event.recorded_at.isoformat(),
            "policyVersion": policy.version if policy else None,
            "policySha256": policy.sha256 if policy else None,
        },
    }


def receipt_filename(event: ConsentEvent) -> str:
    return f"consent-receipt-{event.public_id}.json"
