"""The organisation's identity (the controller), defined once.

Notices, consent receipts and the §1798.83 notice all name the same controller; operators override
any field with the `ORGANISATION` setting (a dict), the rest keeps the policy's values (policy §13).
"""

from dataclasses import dataclass, replace

from django.conf import settings


@dataclass(frozen=True)
class Organisation:
    name: str
    contact: str
    street_address: str
    locality: str
    region: str
    postal_code: str
    country: str
    privacy_email: str
    privacy_phone: str
    website: str
    policy_url: str
    marketing_opt_out_email: str

    @property
    def postal_address(self) -> str:
        return f"{self.street_address}, {self.locality}, {self.region} {self.postal_code}"


DEFAULT_ORGANISATION = Organisation(
    name="SYSPRO USA",
    contact="Privacy Office",
    street_address="959 South Coast Drive, Suite 100",
    locality="Costa Mesa",
    region="CA",
    postal_code="92626",
    country="US",
    privacy_email="privacy@us.syspro.com",
    privacy_phone="800-369-8649",
    website="https://us.syspro.com/",
    policy_url="https://us.syspro.com/privacy/",
    marketing_opt_out_email="emarketing@us.syspro.com",
)


def organisation() -> Organisation:
    """The controller's identity: the defaults above with the `ORGANISATION` setting's overrides."""
    overrides = getattr(settings, "ORGANISATION", None) or {}
    return replace(DEFAULT_ORGANISATION, **overrides)
