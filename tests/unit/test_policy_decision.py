"""The pure access decision (SPEC §3): precedence, reason codes, texts, and random views."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.policy.catalogue import DISPLAY, METHODS, PROTOCOLS
from mailgate.policy.decision import Decision, PolicyView, Setting, decide

NOW = 1_700_000_000.0
STANDARD = {p: p != "pop" for p in PROTOCOLS}
STATE_REASONS = {
    "compromised": "account_compromised",
    "deactivating": "account_deactivating",
    "deactivated": "account_deactivated",
    "pending": "services_not_activated",
}
ALL_REASONS = {
    *STATE_REASONS.values(), "department_policy", "account_setting", "temporary_grant",
    "plan_default", "modern_auth_required", "network_not_allowed",
}
NEXT_STEP = re.compile(r"contact the help desk|sign in with .+ instead|connect from", re.I)


def view(**kw: object) -> PolicyView:
    base: dict[str, object] = {"address": "ann@example.test", "state": "active",
                               "plan": "standard", "plan_defaults": dict(STANDARD)}
    base.update(kw)
    return PolicyView(**base)  # type: ignore[arg-type]


def grant(enabled: bool, seconds: float = 3600, case_id: int | None = None) -> Setting:
    return Setting(enabled, case_id, NOW + seconds)


def check_text(d: Decision) -> None:
    """Every sentence names its door, never says 'lock', and a denial says what to do next."""
    assert DISPLAY[d.protocol] in d.detail
    assert "lock" not in d.detail.lower()
    assert d.detail.endswith(".")
    if not d.allowed:
        assert NEXT_STEP.search(d.detail), d.detail
    assert d.reason in ALL_REASONS


# --- rule 1: account state -------------------------------------------------------------------

@pytest.mark.parametrize("state,reason", sorted(STATE_REASONS.items()))
def test_inactive_state_closes_every_door_even_over_grants_settings_and_plan(state, reason):
    v = view(state=state, plan_defaults={p: True for p in PROTOCOLS},
             settings={p: Setting(True) for p in PROTOCOLS},
             grants={p: grant(True) for p in PROTOCOLS})
    for p in PROTOCOLS:
        d = decide(v, p, NOW, method="password", peer="127.0.0.1")
        assert (d.allowed, d.reason, d.source, d.locked) == (False, reason, "state", True)
        check_text(d)


def test_state_reason_wins_over_department_denial():
    v = view(state="compromised", department="Physics", department_denials=frozenset({"pop"}))
    assert decide(v, "pop", NOW).reason == "account_compromised"


@pytest.mark.parametrize("state,phrase", [
    ("compromised", "compromised"), ("deactivating", "being deactivated"),
    ("deactivated", "has been deactivated"), ("pending", "have not been activated"),
])
def test_state_detail_explains_the_cause(state, phrase):
    assert phrase in decide(view(state=state), "imap", NOW).detail


# --- rule 2: department ----------------------------------------------------------------------

def test_department_denial_beats_grant_setting_and_plan_and_is_locked():
    v = view(department="Physics", department_denials=frozenset({"pop", "imap"}),
             plan_defaults={p: True for p in PROTOCOLS},
             settings={"pop": Setting(True), "imap": Setting(True, case_id=4)},
             grants={"pop": grant(True, case_id=9)})
    for p in ("pop", "imap"):
        d = decide(v, p, NOW)
        assert (d.allowed, d.reason, d.source, d.locked) == (False, "department_policy",
                                                             "department", True)
        assert "department Physics" in d.detail
        check_text(d)
    other = decide(v, "smtp", NOW)
    assert other.allowed and not other.locked and other.reason == "plan_default"


def test_department_detail_matches_the_spec_example():
    v = view(department="Physics", department_denials=frozenset({"pop"}))
    assert decide(v, "pop", NOW).detail == (
        "POP is turned off for this account by the policy of department Physics. "
        "Contact the help desk.")


# --- rule 3: temporary grant, then account setting --------------------------------------------

@pytest.mark.parametrize("enabled", [True, False])
def test_live_temporary_grant_beats_account_setting_and_plan(enabled):
    v = view(settings={"pop": Setting(not enabled)}, plan_defaults={"pop": not enabled},
             grants={"pop": grant(enabled)})
    d = decide(v, "pop", NOW)
    assert (d.allowed, d.reason, d.locked) == (enabled, "temporary_grant", False)
    assert "until 2023-11-14 23:13 UTC" in d.detail
    check_text(d)


def test_temporary_grant_source_is_case_when_it_came_from_a_case():
    assert decide(view(grants={"pop": grant(True, case_id=3)}), "pop", NOW).source == "case"
    assert decide(view(grants={"pop": grant(True)}), "pop", NOW).source == "account"


@pytest.mark.parametrize("underneath,expected", [
    ({"settings": {"pop": Setting(True)}}, (True, "account_setting")),
    ({"settings": {"pop": Setting(False)}}, (False, "account_setting")),
    ({}, (False, "plan_default")),
    ({"plan_defaults": {"pop": True}}, (True, "plan_default")),
])
def test_expired_grant_falls_back_to_the_previous_value(underneath, expected):
    for enabled in (True, False):
        v = view(grants={"pop": grant(enabled, seconds=-1)}, **underneath)
        d = decide(v, "pop", NOW)
        assert (d.allowed, d.reason) == expected


def test_grant_expiring_exactly_now_is_expired():
    d = decide(view(grants={"pop": grant(True, seconds=0)}), "pop", NOW)
    assert d.reason == "plan_default" and not d.allowed


@pytest.mark.parametrize("enabled", [True, False])
def test_account_setting_beats_plan_default(enabled):
    v = view(settings={"imap": Setting(enabled)}, plan_defaults={"imap": not enabled})
    d = decide(v, "imap", NOW)
    assert (d.allowed, d.reason, d.source, d.locked) == (enabled, "account_setting",
                                                         "account", False)
    check_text(d)


def test_account_setting_from_a_case_names_the_case():
    d = decide(view(settings={"pop": Setting(True, case_id=12)}), "pop", NOW)
    assert d.source == "case" and "case #12" in d.detail


# --- rule 4: plan default -------------------------------------------------------------------

def test_standard_plan_has_every_door_on_except_pop():
    v = view()
    for p in PROTOCOLS:
        d = decide(v, p, NOW)
        assert (d.allowed, d.reason, d.source) == (p != "pop", "plan_default", "plan")
        assert "plan standard" in d.detail
        check_text(d)


def test_missing_plan_default_falls_back_to_the_standard_shape():
    v = view(plan_defaults={})
    assert not decide(v, "pop", NOW).allowed
    assert decide(v, "imap", NOW).allowed


# --- after an allowed door: method, then network --------------------------------------------

def test_method_not_allowed_is_modern_auth_required():
    v = view(methods={"imap": frozenset({"oauth", "app_password"})})
    d = decide(v, "imap", NOW, method="password")
    assert (d.allowed, d.reason, d.source) == (False, "modern_auth_required", "method")
    assert "does not accept password sign-in" in d.detail
    assert "an app password" in d.detail and "OAuth" in d.detail
    check_text(d)
    assert decide(v, "imap", NOW, method="oauth").allowed
    assert decide(v, "imap", NOW).allowed  # no method: the door itself is open


def test_modern_auth_texts_read_well_for_every_method():
    for method in METHODS:
        others = frozenset(METHODS) - {method}
        d = decide(view(methods={"smtp": others}), "smtp", NOW, method=method)
        assert d.reason == "modern_auth_required"
        assert "sign-in sign-in" not in d.detail
        check_text(d)


def test_door_with_no_allowed_method_still_gives_a_next_step():
    d = decide(view(methods={"imap": frozenset()}), "imap", NOW, method="password")
    assert d.reason == "modern_auth_required"
    assert "nothing" not in d.detail and "contact the help desk" in d.detail
    check_text(d)


def test_closed_door_reports_its_own_reason_not_the_method():
    v = view(methods={"pop": frozenset({"oauth"})})
    assert decide(v, "pop", NOW, method="password").reason == "plan_default"


def test_client_outside_allowed_networks_is_network_not_allowed():
    nets = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))
    v = view(networks={"imap": nets})
    for peer in ("10.1.2.3", "2001:db8::1"):
        assert decide(v, "imap", NOW, peer=peer).allowed
    for peer in ("192.0.2.1", "not-an-ip", "::1"):
        d = decide(v, "imap", NOW, peer=peer)
        assert (d.allowed, d.reason, d.source) == (False, "network_not_allowed", "network")
        check_text(d)
    assert decide(v, "smtp", NOW, peer="192.0.2.1").allowed  # no networks set for smtp


def test_method_is_checked_before_network():
    v = view(methods={"imap": frozenset({"oauth"})},
             networks={"imap": (ipaddress.ip_network("10.0.0.0/8"),)})
    assert decide(v, "imap", NOW, method="password", peer="192.0.2.1").reason == \
        "modern_auth_required"


# --- random views: the decision is exactly the first matching rule --------------------------

def expected(v: PolicyView, p: str, now: float, method: str | None,
             peer: str | None) -> tuple[bool, str]:
    if v.state != "active":
        return False, STATE_REASONS[v.state]
    if p in v.department_denials:
        return False, "department_policy"
    g = v.grants.get(p)
    if g is not None and g.expires_at is not None and g.expires_at > now:
        base = (g.enabled, "temporary_grant")
    elif p in v.settings:
        base = (v.settings[p].enabled, "account_setting")
    else:
        base = (v.plan_defaults.get(p, p != "pop"), "plan_default")
    if not base[0]:
        return base
    if method is not None and method not in v.methods.get(p, frozenset(METHODS)):
        return False, "modern_auth_required"
    nets = v.networks.get(p)
    if peer is not None and nets:
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False, "network_not_allowed"
        if not any(ip in n for n in nets):
            return False, "network_not_allowed"
    return base


protocols = st.sampled_from(PROTOCOLS)
NETS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32")]


@st.composite
def policy_views(draw: st.DrawFn) -> PolicyView:
    department = draw(st.sampled_from([None, "Physics", "Law & Order", "Økonomi"]))
    settings_ = draw(st.dictionaries(protocols, st.builds(
        Setting, st.booleans(), st.none() | st.integers(1, 99))))
    grants = draw(st.dictionaries(protocols, st.builds(
        Setting, st.booleans(), st.none() | st.integers(1, 99),
        st.none() | st.floats(NOW - 86400, NOW + 86400))))
    return PolicyView(
        address="ann@example.test",
        state=draw(st.sampled_from(["active", "active", "active", *STATE_REASONS])),
        plan=draw(st.sampled_from(["standard", "staff", "students"])),
        plan_defaults=draw(st.dictionaries(protocols, st.booleans())),
        department=department,
        department_denials=draw(st.frozensets(protocols)) if department else frozenset(),
        settings=settings_, grants=grants,
        methods=draw(st.dictionaries(protocols, st.frozensets(st.sampled_from(METHODS)))),
        networks=draw(st.dictionaries(protocols, st.lists(
            st.sampled_from(NETS), min_size=0, max_size=2, unique=True).map(tuple))),
    )


peers = st.none() | st.sampled_from(["10.9.8.7", "192.168.1.20", "192.0.2.5", "2001:db8::5",
                                     "::1", "bogus"])


@settings(max_examples=150, deadline=None)
@given(policy_views(), protocols, st.none() | st.sampled_from(METHODS), peers)
def test_random_views_decide_by_first_matching_rule(v, p, method, peer):
    d = decide(v, p, NOW, method=method, peer=peer)
    assert (d.allowed, d.reason) == expected(v, p, NOW, method, peer)
    assert d.protocol == p
    check_text(d)
    assert d.locked == (d.reason in STATE_REASONS.values() or d.reason == "department_policy")
    source = {"plan_default": {"plan"}, "department_policy": {"department"},
              "modern_auth_required": {"method"}, "network_not_allowed": {"network"},
              "account_setting": {"account", "case"}, "temporary_grant": {"account", "case"}}
    assert d.source in source.get(d.reason, {"state"})


@settings(max_examples=60, deadline=None)
@given(policy_views(), protocols)
def test_random_views_door_decision_is_the_one_without_method_or_peer(v, p):
    """A sign-in can only be refused more than the door itself, never allowed more."""
    door = decide(v, p, NOW)
    for method in METHODS:
        attempt = decide(v, p, NOW, method=method, peer="192.0.2.5")
        assert not attempt.allowed or door.allowed
        if not door.allowed:
            assert attempt == door


@settings(max_examples=60, deadline=None)
@given(policy_views(), protocols)
def test_random_views_expiry_only_matters_for_grants(v, p):
    """After every grant has expired, the decision is what it would be with no grants at all."""
    later = NOW + 2 * 86400
    without = PolicyView(**{**v.__dict__, "grants": {}})
    assert decide(v, p, later) == decide(without, p, later)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_signing_out_everywhere_ends_sessions_of_every_credential_signed_in_before(
        method: str) -> None:
    signed_out = view(credential_epoch=3, signed_out_epoch=3)
    before = decide(signed_out, "imap", NOW, method=method, signed_in_epoch=2)
    assert (before.allowed, before.reason) == (False, "signed_out")
    assert "signed out everywhere" in before.detail and "IMAP" in before.detail
    assert decide(signed_out, "imap", NOW, method=method, signed_in_epoch=3).allowed


def test_a_password_change_after_signing_out_everywhere_says_password_changed() -> None:
    changed = view(credential_epoch=4, signed_out_epoch=3)
    ended = decide(changed, "imap", NOW, method="password", signed_in_epoch=3)
    assert ended.reason == "password_changed"
    assert decide(changed, "imap", NOW, method="app_password", signed_in_epoch=3).allowed
