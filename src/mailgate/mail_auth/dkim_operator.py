"""What the mail team does with DKIM keys (`mailgate dkim generate`), audited: the one
function the CLI and the admin API call."""

from __future__ import annotations

from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import Conflict
from mailgate.mail_auth import dkimkeys
from mailgate.mail_auth.dkimkeys import DkimKeyExists, SigningKey
from mailgate.service import Service


def generate(svc: Service, actor: Actor, domain: str,
             selector: str = dkimkeys.DEFAULT_SELECTOR) -> SigningKey:
    """A new key for `domain` in `DIR/dkim/` (never replacing one); audited `dkim.generate`.
    The private key stays on the server: callers show only `dkimkeys.dns_record(key)`; a
    domain name or selector that cannot name a key is a `DkimKeyError` (a ValueError)."""
    authority.require_admin(actor, "make DKIM keys")
    try:
        key = dkimkeys.generate(svc.settings.data_dir, domain, selector)
    except DkimKeyExists as exc:
        raise Conflict(str(exc)) from None
    with svc.engine.begin() as conn:
        record(conn, svc.clock(), actor, "dkim.generate", scope="none", domain=key.domain,
               selector=key.selector)
    return key
