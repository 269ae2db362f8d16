"""Prometheus metrics shared by every door."""

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry()

SIGNINS = Counter("mailgate_signins_total", "Sign-in attempts by door and result",
                  ["protocol", "result"], registry=REGISTRY)
LIVE_SESSIONS = Gauge("mailgate_live_sessions", "Signed-in sessions on this node",
                      registry=REGISTRY)
SESSIONS_CLOSED = Counter("mailgate_sessions_closed_by_policy_total",
                          "Live sessions ended because their door closed", registry=REGISTRY)
UNAUTHENTICATED_CLOSED = Counter("mailgate_unauthenticated_closed_total",
                                 "Connections ended before sign-in: refused by the per-address "
                                 "cap, or closed at the sign-in deadline", ["cause"],
                                 registry=REGISTRY)
SIGNINS_THROTTLED = Counter("mailgate_signins_throttled_total",
                            "Password sign-ins made to wait after failed ones, by door",
                            ["protocol"], registry=REGISTRY)
