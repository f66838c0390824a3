"""The answer to the notices outbox's "may we send this marketing message?" (registered in ConsentConfig.ready).

Marketing goes out only with a current, unexpired consent for the purpose and when none of the
subject's addresses is on the suppression list (policy §4, GDPR Art. 7 and 21(3), CAN-SPAM §7704).
"""

from inventory.models import DataSubject

from .selectors import consent_is_current, subject_is_suppressed
from .tokens import unsubscribe_url


class ConsentMarketingGate:
    def may_send(self, *, subject_id: int, purpose: str) -> bool:
        return consent_is_current(subject_id=subject_id, purpose=purpose) and not subject_is_suppressed(
            subject_id=subject_id, purpose=purpose
        )

    def unsubscribe_url(self, *, subject_id: int, purpose: str) -> str:
        public_id = DataSubject.objects.values_list("public_id", flat=True).get(pk=subject_id)
        return unsubscribe_url(subject_public_id=public_id, purpose=purpose)


gate = ConsentMarketingGate()
