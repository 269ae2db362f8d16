"""What one credential adds to the access decision: an app password opens only the doors it
was made for, and only from its networks when it has any. Pure, like `decision`."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Sequence

from mailgate.policy.catalogue import DISPLAY
from mailgate.policy.decision import Decision

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def app_password_decision(door: Decision, doors: Collection[str],
                          networks: Sequence[Network], peer: str) -> Decision:
    """The door's decision for a sign-in with an app password made for `doors`."""
    if not door.allowed:
        return door
    name = DISPLAY[door.protocol]
    if door.protocol not in doors:
        made_for = " and ".join(DISPLAY[d] for d in sorted(doors))
        return Decision(door.protocol, False, "app_password_scope",
                        f"This app password does not open {name}: it was made for {made_for} "
                        f"only. Create an app password for {name}.", "credential")
    if networks:
        try:
            address = ipaddress.ip_address(peer.split("%")[0])
        except ValueError:
            address = None
        if address is None or not any(address in net for net in networks):
            return Decision(door.protocol, False, "network_not_allowed",
                            f"This app password opens {name} only from the networks it was "
                            "made for. Connect from there or create another app password.",
                            "credential")
    return door
