"""Audit: the append-only hash-chained log, sign-in evidence and per-door usage counters."""
