"""Rules of the request workflow that are data, each cited (docs/regulations.md, the privacy policy's sections)."""

from .models import Regime, RequestType, Status, VerificationLevel

# Allowed status changes. Everything else is refused by workflow.transition.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.RECEIVED: frozenset(
        {Status.VERIFYING, Status.IDENTITY_IN_DOUBT, Status.IN_PROGRESS, Status.DENIED, Status.WITHDRAWN}
    ),
    Status.VERIFYING: frozenset(
        {Status.IDENTITY_IN_DOUBT, Status.IN_PROGRESS, Status.DENIED, Status.WITHDRAWN}
    ),
    # GDPR Art. 12(6): more information was asked for; a new link, a manual check or a refusal follows.
    Status.IDENTITY_IN_DOUBT: frozenset(
        {Status.VERIFYING, Status.IN_PROGRESS, Status.DENIED, Status.WITHDRAWN}
    ),
    Status.IN_PROGRESS: frozenset(
        {
            Status.COMPLETED,
            Status.DENIED,
            Status.WITHDRAWN,
            Status.WAITING_HOLD_RELEASE,
            Status.AWAITING_APPROVAL,
        }
    ),
    # Held records were kept: the case waits; a hold's release sends it back to work (erasure resumed).
    Status.WAITING_HOLD_RELEASE: frozenset({Status.IN_PROGRESS, Status.DENIED, Status.WITHDRAWN}),
    # The package is built; the officer's approval releases it (completes), or a refusal denies it.
    Status.AWAITING_APPROVAL: frozenset(
        {Status.COMPLETED, Status.IN_PROGRESS, Status.DENIED, Status.WITHDRAWN}
    ),
    Status.COMPLETED: frozenset(),
    Status.DENIED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}

_LEVEL_ORDER = [
    VerificationLevel.NONE,
    VerificationLevel.BASIC,
    VerificationLevel.REASONABLE,
    VerificationLevel.HIGH,
]


def level_rank(level: str) -> int:
    return _LEVEL_ORDER.index(level) if level in _LEVEL_ORDER else -1


def required_verification_level(*, request_type: str, regime: str) -> str:
    """11 CCR §§7060-7062 for CCPA; elsewhere control of the email on file, more on doubt (Art. 12(6))."""
    if request_type in (RequestType.OPT_OUT, RequestType.LIMIT_SENSITIVE):
        # 11 CCR §7026(d): no verification for opt-out; GDPR Art. 21(3) objection to marketing likewise;
        # a request to limit is not a verifiable consumer request either (11 CCR §7027(f)).
        return VerificationLevel.NONE
    if regime == Regime.CCPA:
        if request_type in (RequestType.ACCESS, RequestType.PORTABILITY):
            return VerificationLevel.HIGH  # specific pieces: §7062(c)
        return VerificationLevel.REASONABLE  # categories, deletion, correction: §7062(b), (d)
    return VerificationLevel.BASIC


def level_from_data_points(*, points: int, signed_declaration: bool) -> str:
    """11 CCR §7062: 3 matching points + signed declaration = high; 2 = reasonable; 1 = email control."""
    if points >= 3 and signed_declaration:
        return VerificationLevel.HIGH
    if points >= 2:
        return VerificationLevel.REASONABLE
    return VerificationLevel.BASIC if points >= 1 else VerificationLevel.NONE


# Which consent purposes an opt-out withdraws (consent app's seeded purpose codes, docs/design.md, cross-app contracts).
OPT_OUT_PURPOSES: dict[str, tuple[str, ...]] = {
    # GDPR Art. 21(3): processing for direct marketing stops.
    Regime.GDPR: ("marketing_email", "marketing_phone", "share_marketing_partners", "advertising_pixels"),
    # Cal. Civ. Code §1798.120/§1798.135 opt-out of sale/sharing, plus marketing (CAN-SPAM §7704(a)(4)).
    Regime.CCPA: ("marketing_email", "marketing_phone", "share_marketing_partners", "advertising_pixels"),
    # §1798.83(c)(2): the opt-out of third-party marketing sharing.
    Regime.CAL_1798_83: ("share_marketing_partners",),
    Regime.COPPA: ("marketing_email", "marketing_phone", "share_marketing_partners", "advertising_pixels"),
    # Policy §7 "anyone may opt out of marketing".
    Regime.OTHER: ("marketing_email", "marketing_phone"),
}

# What a CCPA request to limit the use of sensitive personal information withdraws (§1798.121; 11 CCR
# §7027(m) lists the only uses that stay allowed): the purposes that infer characteristics from activity
# data (advertising pixels, analytics) or hand data to others for their own use (marketing partners).
LIMIT_SENSITIVE_PURPOSES: tuple[str, ...] = (
    "advertising_pixels",
    "analytics_cookies",
    "share_marketing_partners",
)

# Request types each regime-specific rule allows (anything not listed: every regime but 1798.83).
REGIMES_FOR_TYPE: dict[str, frozenset[str]] = {
    RequestType.NOTICE_1798_83: frozenset({Regime.CAL_1798_83}),
    RequestType.LIMIT_SENSITIVE: frozenset({Regime.CCPA}),
}
# The 1798.83 regime knows two requests: the notice (§1798.83(a)) and the opt-out of (c)(2).
TYPES_FOR_1798_83 = frozenset({RequestType.NOTICE_1798_83, RequestType.OPT_OUT})


def regime_error(*, request_type: str, regime: str) -> str:
    """Why this type can't be asked under this regime ("" when it can)."""
    if request_type in REGIMES_FOR_TYPE and regime not in REGIMES_FOR_TYPE[request_type]:
        if request_type == RequestType.NOTICE_1798_83:
            return "A California 1798.83 notice request is handled under the Cal. 1798.83 regime only."
        return "A request to limit the use of sensitive personal information is a CCPA request."
    if regime == Regime.CAL_1798_83 and request_type not in TYPES_FOR_1798_83:
        return "Under Cal. 1798.83 you may ask for the notice or opt out of disclosures for direct marketing."
    return ""


# How a case's channel is recorded on the consent ledger (consent.models.Channel values). A letter has
# no channel of its own there: it is entered by the case system ("api"), the evidence says "mail".
CONSENT_CHANNEL: dict[str, str] = {"web": "web_form", "email": "email", "phone": "phone", "mail": "api"}

# Types fulfilled automatically once the case reaches "in progress" (no officer judgement needed).
# Minors: policy §9 "immediately delete" on confirmation. Erasure/rectification/restriction wait for an
# officer who reviews holds and values first.
AUTO_FULFIL = frozenset(
    {
        RequestType.ACCESS,
        RequestType.PORTABILITY,
        RequestType.OPT_OUT,
        RequestType.MINOR_DELETION,
        RequestType.NOTICE_1798_83,
        RequestType.LIMIT_SENSITIVE,
    }
)

# Purposes per data category for the access package README (policy §4, GDPR Art. 15(1)(a)).
PURPOSES_BY_CATEGORY: dict[str, list[str]] = {
    "contact": [
        "Account setup and access to the Services (policy §4)",
        "Customer support (policy §4)",
        "Transactional communications (policy §4)",
        "Marketing, only with your consent (policy §4)",
    ],
    "account": ["Account setup and access to the Services (policy §4)", "Billing (policy §4)"],
    "company": ["Service delivery and analysis (policy §4)", "Marketing, only with your consent (policy §4)"],
    "marketing": ["Honouring your marketing preferences (policy §4)"],
    "survey": ["Service delivery, market research and product development (policy §4)"],
    "activity": [
        "Service delivery: performance, usage analysis and improvement (policy §4)",
        "Measuring email delivery and engagement (policy §3)",
    ],
}

# Categories of recipients (policy §5; GDPR Art. 15(1)(c) allows categories where names are not known).
RECIPIENT_CATEGORIES = [
    "Service providers (payment processors, hosting, email service providers, web analytics) - policy §5",
    "Your organisation or its billing contact, for enterprise accounts - policy §5",
    "Affiliated businesses, for transactions you take part in - policy §5",
    "Acquirers in a business transfer - policy §5",
    "Courts, authorities and others where the law requires - policy §5",
]

# How notices name a request and a law (the notices app's templates say "your request for {request_type}").
REQUEST_PHRASES: dict[str, str] = {
    RequestType.ACCESS: "access to your personal information",
    RequestType.PORTABILITY: "a portable copy of your personal information",
    RequestType.RECTIFICATION: "correction of your personal information",
    RequestType.ERASURE: "deletion of your personal information",
    RequestType.RESTRICTION: "restriction of, or objection to, the use of your personal information",
    RequestType.OPT_OUT: "an opt-out of marketing and of the sale or sharing of your personal information",
    RequestType.NOTICE_1798_83: "the California Civil Code §1798.83 notice of disclosures for direct marketing",
    RequestType.MINOR_DELETION: "deletion of a child's personal information",
    RequestType.LIMIT_SENSITIVE: "limiting the use of your sensitive personal information",
}
REGIME_PHRASES: dict[str, str] = {
    Regime.GDPR: "the EU General Data Protection Regulation",
    Regime.CCPA: "the California Consumer Privacy Act, as amended by the CPRA",
    Regime.CAL_1798_83: "California Civil Code §1798.83",
    Regime.COPPA: "the Children's Online Privacy Protection Act and our privacy policy (§9)",
    Regime.OTHER: "our privacy policy (§7)",
}
APPEAL_INSTRUCTIONS: dict[str, str] = {
    "identity_not_verified": "If you reply with the additional information we asked for, we will reopen your "
    "request.",
    "no_authority": "If you send the signed permission or proof of parental authority, we will reopen the "
    "request.",
}

SUPERVISORY_AUTHORITY_NOTE = (
    "You have the right to lodge a complaint with a supervisory authority, in particular in the EU member "
    "state of your habitual residence, place of work or of the alleged infringement (GDPR Art. 12(4), 77)."
)

# The CCPA counterpart of each GDPR Art. 17(3) exception code a kept record carries (retention's
# ExceptionCode values), named in a CCPA requester's reply (11 CCR §7022(f); docs/regulations.md).
CCPA_ERASURE_EXCEPTIONS: dict[str, str] = {
    "art17_3_a": "Cal. Civ. Code §1798.105(d)(4) (free speech)",
    "art17_3_b": "Cal. Civ. Code §1798.105(d)(8) (compliance with a legal obligation)",
    "art17_3_c": "Cal. Civ. Code §1798.105(d)(8), §1798.145(a)(1)(A) (compliance with law)",
    "art17_3_d": "Cal. Civ. Code §1798.105(d)(6) (research in the public interest)",
    "art17_3_e": "Cal. Civ. Code §1798.145(a)(1)(E) (exercise or defence of legal claims)",
}
