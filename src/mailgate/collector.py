"""Python's cycle collector, set for a long-running server.

A full (oldest-generation) collection walks every tracked object. After start-up that is
everything the server loaded once and keeps for good: modules, the database schema and its
compiled statements, templates, the policy catalogue. On a webmail list of a 10 000-message
folder such a walk took 30-95 ms, and it fell inside whichever request happened to allocate
next: the p99 of a list page was several times its p50. `freeze_startup_objects()` collects
once and moves what survives into the permanent generation, which the collector never walks
again, so later collections cost in proportion to what requests create.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect once, then leave every surviving object out of later collections."""
    gc.collect()
    gc.freeze()
