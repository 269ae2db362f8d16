"""The OAuth server's stored grants on each database: codes are single-use, a rotated
refresh token used again is a replay, compromise revokes refresh families, codes and device
codes, removing a client removes its grants; and only the mail team registers clients."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mailgate.db.schema import oauth_codes, oauth_device_codes, oauth_refresh_families
from mailgate.directory import accounts, oauth_clients, oauth_grants
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, NotAllowed
from mailgate.directory.views import account_row, load_actor
from mailgate.service import Service

SYSTEM = Actor.system()
ANA = "ana@example.test"


def setup(svc: Service) -> tuple[str, int]:
    accounts.create(svc, SYSTEM, ANA, "correct-horse-battery")
    client, _ = oauth_clients.add(svc, SYSTEM, "Mail app", ["http://127.0.0.1/cb"], False)
    with svc.reader.connect() as conn:
        return client.client_id, account_row(conn, ANA).id


def new_code(svc: Service, client_id: str, account_id: int, now: float) -> str:
    with svc.engine.begin() as conn:
        return oauth_grants.new_code(
            conn, svc.app_secret_key.mac, now, client_id=client_id, account_id=account_id,
            redirect_uri="http://127.0.0.1/cb", scope="mail.imap", nonce=None,
            code_challenge=None, auth_time=now)


def test_a_code_is_taken_once_and_not_after_it_expired(svc: Service) -> None:
    client_id, account_id = setup(svc)
    now, mac = svc.clock(), svc.app_secret_key.mac
    code = new_code(svc, client_id, account_id, now)
    with svc.engine.begin() as conn:
        assert oauth_grants.take_code(conn, mac, code, now).client_id == client_id
        assert oauth_grants.take_code(conn, mac, code, now) is None
    late = new_code(svc, client_id, account_id, now)
    with svc.engine.begin() as conn:
        assert oauth_grants.take_code(conn, mac, late, now + 3600) is None


def test_a_rotated_refresh_token_used_again_is_a_replay(svc: Service) -> None:
    client_id, account_id = setup(svc)
    now, mac = svc.clock(), svc.app_secret_key.mac
    with svc.engine.begin() as conn:
        family = oauth_grants.new_family(conn, now, client_id=client_id, account_id=account_id,
                                         scope="mail.imap offline_access", auth_time=now)
        first = oauth_grants.new_refresh_token(conn, mac, now, family, "jti1", 3600)
    with svc.engine.begin() as conn:
        used = oauth_grants.use_refresh_token(conn, mac, first, client_id, now)
        assert used.family is not None and not used.replayed
        assert oauth_grants.use_refresh_token(conn, mac, first, "another", now).family is None
        oauth_grants.new_refresh_token(conn, mac, now, family, "jti2", 3600)
    with svc.engine.begin() as conn:
        again = oauth_grants.use_refresh_token(conn, mac, first, client_id, now)
        assert again.replayed
        assert sorted(oauth_grants.revoke_family(conn, family, now)) == ["jti1", "jti2"]
        assert oauth_grants.use_refresh_token(conn, mac, first, client_id, now).family is None


def test_compromise_revokes_refresh_families_codes_and_device_codes(svc: Service) -> None:
    client_id, account_id = setup(svc)
    now, mac = svc.clock(), svc.app_secret_key.mac
    new_code(svc, client_id, account_id, now)
    with svc.engine.begin() as conn:
        oauth_grants.new_family(conn, now, client_id=client_id, account_id=account_id,
                                scope="offline_access", auth_time=now)
        device = oauth_grants.new_device_code(conn, mac, now, client_id, "mail.imap")
        row = oauth_grants.pending_device_code(conn, mac, device.user_code, now)
        assert oauth_grants.settle_device_code(conn, row.device_code_hash, account_id, True,
                                               now)
    accounts.compromise(svc, SYSTEM, ANA, "phished")
    with svc.reader.connect() as conn:
        assert conn.execute(select(func.count()).select_from(oauth_codes)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(oauth_device_codes)).scalar() == 0
        assert conn.execute(select(oauth_refresh_families.c.revoked_at)).scalar() is not None


def test_only_the_mail_team_registers_clients_and_removing_one_removes_its_grants(
        svc: Service) -> None:
    client_id, account_id = setup(svc)
    new_code(svc, client_id, account_id, svc.clock())
    with svc.reader.connect() as conn:
        ana = load_actor(conn, ANA)
    with pytest.raises(NotAllowed, match="mail team"):
        oauth_clients.add(svc, ana, "Sneaky", ["https://evil.example/cb"], False)
    with pytest.raises(NotAllowed):
        oauth_clients.remove(svc, ana, client_id)
    with pytest.raises(DirectoryError, match="http only on loopback"):
        oauth_clients.add(svc, SYSTEM, "Plain", ["http://app.example/cb"], True)
    with pytest.raises(DirectoryError, match="unknown scope"):
        oauth_clients.add(svc, SYSTEM, "Greedy", [], False, ["mail.everything"])
    oauth_clients.remove(svc, SYSTEM, client_id)
    with svc.reader.connect() as conn:
        assert conn.execute(select(func.count()).select_from(oauth_codes)).scalar() == 0
    assert oauth_clients.list_all(svc, SYSTEM) == []
