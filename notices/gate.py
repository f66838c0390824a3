"""The marketing gate: the one question notices asks before a marketing message, "may we?".

Notices never imports consent (docs/design.md: imports point down the stack). Consent implements a gate and
registers it in ConsentConfig.ready():

    from notices.gate import register_marketing_gate
    register_marketing_gate(ConsentMarketingGate())

A gate has two keyword-only methods:
- `may_send(*, subject_id: int, purpose: str) -> bool`: current consent for the purpose and not
  suppressed (checked at enqueue time and again right before delivery);
- `unsubscribe_url(*, subject_id: int, purpose: str) -> str`: an absolute one-click URL (no login),
  put in the List-Unsubscribe header and the message footer.

With no gate registered every marketing message is refused (policy §4: marketing needs consent).
Transactional notices never consult the gate.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable


@runtime_checkable
class MarketingGate(Protocol):
    def may_send(self, *, subject_id: int, purpose: str) -> bool: ...

    def unsubscribe_url(self, *, subject_id: int, purpose: str) -> str: ...


class RefuseAllGate:
    """The default until an app that records consent registers a real gate."""

    def may_send(self, *, subject_id: int, purpose: str) -> bool:
        return False

    def unsubscribe_url(self, *, subject_id: int, purpose: str) -> str:
        return ""


_DEFAULT = RefuseAllGate()
_gate: MarketingGate = _DEFAULT


def register_marketing_gate(gate: MarketingGate) -> MarketingGate:
    """Install the gate (the last registration wins; there is one consent authority)."""
    global _gate
    if not isinstance(gate, MarketingGate):
        raise TypeError("A marketing gate needs may_send(*, subject_id, purpose) and unsubscribe_url(...).")
    _gate = gate
    return gate


def marketing_gate() -> MarketingGate:
    return _gate


@contextmanager
def use_marketing_gate(gate: MarketingGate) -> Iterator[MarketingGate]:
    """Temporarily install a gate (tests, scripts); restores the previous one."""
    global _gate
    previous = _gate
    register_marketing_gate(gate)
    try:
        yield gate
    finally:
        _gate = previous


def may_send_marketing(*, subject_id: int, purpose: str) -> bool:
    return bool(_gate.may_send(subject_id=subject_id, purpose=purpose))


def unsubscribe_url(*, subject_id: int, purpose: str) -> str:
    return _gate.unsubscribe_url(subject_id=subject_id, purpose=purpose) or ""
