"""The access decision: which door is open for which account, and why (SPEC §3)."""

from mailgate.policy.catalogue import PROTOCOLS, UnknownProtocol, normalise_protocol
from mailgate.policy.decision import Decision, PolicyView, decide

__all__ = ["PROTOCOLS", "Decision", "PolicyView", "UnknownProtocol", "decide", "normalise_protocol"]
