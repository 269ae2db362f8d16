"""Every table of mailgate, as SQLAlchemy Core metadata (Alembic migrates to this shape)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

plans = Table(
    "plans", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
)

#: What a plan's accounts may send (limits NULL: none) and whether a submitted message is
#: kept in Sent; a plan without a row has the defaults of `directory.sending`.
plan_sending = Table(
    "plan_sending", metadata,
    Column("plan_id", ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    Column("messages_per_hour", Integer, nullable=True),
    Column("recipients_per_hour", Integer, nullable=True),
    Column("sent_copy", Boolean, nullable=False),
)

#: One row per message submitted in the last hour or so (the sending limits count these).
sends = Table(
    "sends", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("at", Float, nullable=False),
    Column("recipients", Integer, nullable=False),
    Index("ix_sends_account_at", "account_id", "at"),
)

plan_defaults = Table(
    "plan_defaults", metadata,
    Column("plan_id", ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    Column("protocol", String(16), primary_key=True),
    Column("enabled", Boolean, nullable=False),
)

departments = Table(
    "departments", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
)

department_denials = Table(
    "department_denials", metadata,
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
    Column("protocol", String(16), primary_key=True),
)

accounts = Table(
    "accounts", metadata,
    Column("id", Integer, primary_key=True),
    Column("address", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("password_hash", String(200), nullable=True),
    Column("department_id", ForeignKey("departments.id"), nullable=True),
    Column("plan_id", ForeignKey("plans.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("deactivate_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("credential_epoch", Integer, nullable=False, default=0),
    # Set by compromise, cleared only by restore: no other path may bring the account back.
    Column("compromised", Boolean, nullable=False, default=False, server_default=false()),
    # The credential epoch of the owner's last "sign out everywhere" (migration 0018).
    Column("signed_out_epoch", Integer, nullable=True),
)

account_settings = Table(
    "account_settings", metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("protocol", String(16), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("source", String(16), nullable=False),  # account | case | plan_change
    Column("case_id", Integer, nullable=True),
    Column("set_by", String(320), nullable=False),
    Column("set_at", Float, nullable=False),
)

temporary_grants = Table(
    "temporary_grants", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("case_id", Integer, nullable=True),
    Column("set_by", String(320), nullable=False),
    Index("ix_grants_account", "account_id", "protocol"),
    Index("ix_grants_expiry", "expires_at"),
)

method_rules = Table(
    "method_rules", metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(16), nullable=False),  # plan | department | account
    Column("scope_id", Integer, nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("methods", String(64), nullable=False),  # comma-separated allowed methods
    UniqueConstraint("scope", "scope_id", "protocol"),
)

network_rules = Table(
    "network_rules", metadata,
    Column("protocol", String(16), primary_key=True),
    Column("networks", Text, nullable=False),  # comma-separated CIDRs
)

roles = Table(
    "roles", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("department_id", ForeignKey("departments.id"), nullable=True),
    UniqueConstraint("account_id", "role", "department_id"),
)

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("want", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_by", String(320), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("note", Text, nullable=False),
    Column("decided_by", String(320), nullable=True),
    Column("decided_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),
    Index("ix_cases_account", "account_id"),
)

case_notes = Table(
    "case_notes", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("author", String(320), nullable=False),
    Column("at", Float, nullable=False),
    Column("note", Text, nullable=False),
    Index("ix_case_notes_case", "case_id", "id"),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("account_id", Integer, nullable=True),
    Column("scope", String(16), nullable=True),  # account | department | plan | all
    Column("scope_id", Integer, nullable=True),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(48), nullable=False),
    Column("account", String(320), nullable=True),
    Column("details", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_account", "account", "id"),
    sqlite_autoincrement=True,  # ids are never reused, even after rows are cut off the end
)

usage = Table(
    "usage", metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("protocol", String(16), primary_key=True),
    Column("method", String(16), primary_key=True),
    Column("successes", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_success_at", Float, nullable=True),
    Column("last_attempt_at", Float, nullable=True),
)

live_sessions = Table(
    "live_sessions", metadata,
    Column("id", String(40), primary_key=True),
    Column("node", String(64), nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("method", String(16), nullable=False),  # password | app_password | oauth
    Column("peer", String(64), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("client", String(128), nullable=True),  # IMAP ID's name and version (0020)
)

nodes = Table(
    "nodes", metadata,
    Column("name", String(64), primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),  # the heartbeat of a running `serve`
)

folders = Table(
    "folders", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(512), nullable=False),
    Column("special_use", String(32), nullable=True),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("uidnext", BigInteger, nullable=False, default=1),
    Column("highestmodseq", BigInteger, nullable=False, default=1),
    # \Recent (RFC 3501): the first UID no read-write session has claimed as recent yet
    Column("recent_uid", BigInteger, nullable=False, default=1, server_default="1"),
    UniqueConstraint("account_id", "name"),
)

# IMAP subscriptions: names, which need not exist as folders (RFC 9051 §6.3.7).
subscriptions = Table(
    "subscriptions", metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(512), primary_key=True),
)

# The last UIDVALIDITY given out per account: a folder created again under a name that was
# deleted or renamed away always gets a new one (RFC 3501 §2.3.1.1), like Dovecot's
# dovecot-uidvalidity file.
uidvalidity_counters = Table(
    "uidvalidity_counters", metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("last", BigInteger, nullable=False),
)

blobs = Table(
    "blobs", metadata,
    Column("digest", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("refs", Integer, nullable=False, default=0),
    # The Date header as a UTC timestamp and its zone offset in minutes (SEARCH SENT*, SORT);
    # NULL when the message has no usable Date.
    Column("sent_date", Float, nullable=True),
    Column("sent_tz", Integer, nullable=True),
    # SORT and THREAD keys (mime/sortkeys.py): strings already in i;unicode-casemap form.
    Column("sort_from", Text, nullable=False, server_default=""),
    Column("sort_to", Text, nullable=False, server_default=""),
    Column("sort_cc", Text, nullable=False, server_default=""),
    Column("sort_display_from", Text, nullable=False, server_default=""),
    Column("sort_display_to", Text, nullable=False, server_default=""),
    Column("sort_subject", Text, nullable=False, server_default=""),
    Column("subject_is_reply", Boolean, nullable=False, server_default=false()),
    Column("message_id", Text, nullable=True),
    Column("thread_refs", Text, nullable=False, server_default=""),  # Message-IDs, spaced
)

messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True),
    Column("folder_id", ForeignKey("folders.id", ondelete="CASCADE"), nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("modseq", BigInteger, nullable=False),
    Column("digest", ForeignKey("blobs.digest"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("internal_date", Float, nullable=False),
    Column("flags", Text, nullable=False, default=""),  # space-separated
    Column("pop_uidl", String(64), nullable=False),
    Column("deleted_at", Float, nullable=True),  # set while in Recoverable Items
    Column("origin_folder_id", Integer, nullable=True),
    UniqueConstraint("folder_id", "uid"),
    Index("ix_messages_folder_uid", "folder_id", "uid"),
    Index("ix_messages_folder_modseq", "folder_id", "modseq"),
)

# What FETCH renders without opening the message file, one narrow row per message row,
# keyed by its id: a folder's rows sit together in the table in the order they came in, not
# scattered among the wide `blobs` rows by digest, so a cold FETCH 1:* reads few, mostly
# consecutive pages (store/selected.py). Written with the message row (delivery, APPEND,
# import, COPY), moved with it (MOVE, EXPUNGE, restore: the id stays), gone with it.
message_structure = Table(
    "message_structure", metadata,
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True,
           autoincrement=False),
    Column("header_size", Integer, nullable=False),
    Column("envelope", Text, nullable=False),
    Column("bodystructure", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("parts", Text, nullable=False),  # JSON: section -> [header_start, body_start, end]
)

# UIDs that left a folder (expunge, move, POP delete), with the folder's MODSEQ at that
# moment: QRESYNC's VANISHED and the change poll of selected folders read them.
expunged_uids = Table(
    "expunged_uids", metadata,
    Column("folder_id", ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True),
    Column("uid", BigInteger, primary_key=True),
    Column("modseq", BigInteger, nullable=False),
    Index("ix_expunged_folder_modseq", "folder_id", "modseq"),
)

# SEARCH's full-text index (store/fulltext.py): per distinct message, one row per header
# field name, one for the body (field "") and one per normalised From/To/Cc/Bcc address
# list (field "address:from" ...), folded text; gone with its blob row. SQLite
# adds the FTS5 table `search_fts` (trigram) over `text`, PostgreSQL a pg_trgm GIN index.
search_text = Table(
    "search_text", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("digest", ForeignKey("blobs.digest", ondelete="CASCADE"), nullable=False),
    Column("field", Text, nullable=False),
    Column("text", Text, nullable=False),
    UniqueConstraint("digest", "field", name="uq_search_text_digest_field"),
)

mailbox_locks = Table(
    "mailbox_locks", metadata,
    Column("account_id", Integer, primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("node", String(64), nullable=False),
    Column("acquired_at", Float, nullable=False),
)

app_passwords = Table(
    "app_passwords", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(128), nullable=False),
    Column("protocols", String(128), nullable=False),
    Column("secret_hash", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
    Column("networks", Text, nullable=True),  # comma-separated CIDRs; NULL: anywhere
    Index("ix_app_passwords_secret", "secret_hash"),  # a keyed hash: found, not compared
)

#: Revoked access tokens, by `jti`, kept until the token would have expired anyway.
revoked_tokens = Table(
    "revoked_tokens", metadata,
    Column("token_id", String(64), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("revoked_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_revoked_tokens_expiry", "expires_at"),
)

#: Per account: every access token issued before `not_before` is revoked (compromise).
token_cutoffs = Table(
    "token_cutoffs", metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("not_before", Float, nullable=False),
)

# The OAuth authorization server (`http/oauth`). Clients are registered by the operator;
# every secret below (client secret, code, device code, user code, refresh token) is stored
# as its keyed hash (`auth.app_secrets`), never as itself.
oauth_clients = Table(
    "oauth_clients", metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("redirect_uris", Text, nullable=False),  # one per line, matched exactly
    Column("confidential", Boolean, nullable=False),
    Column("secret_hash", String(200), nullable=True),  # confidential clients only
    Column("scopes", Text, nullable=False),  # the scopes it may ask for, space-separated
    Column("created_at", Float, nullable=False),
)

oauth_codes = Table(
    "oauth_codes", metadata,
    Column("code_hash", String(200), primary_key=True),
    Column("client_id", ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
           nullable=False),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("nonce", Text, nullable=True),
    Column("code_challenge", String(128), nullable=True),  # PKCE S256
    Column("auth_time", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# RFC 8628: pending until the user approves (account_id set) or denies it on /device.
oauth_device_codes = Table(
    "oauth_device_codes", metadata,
    Column("device_code_hash", String(200), primary_key=True),
    Column("user_code_hash", String(200), nullable=False, unique=True),
    Column("client_id", ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
           nullable=False),
    Column("scope", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved | denied
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
    Column("auth_time", Float, nullable=True),
    Column("interval", Integer, nullable=False),
    Column("last_polled_at", Float, nullable=True),
    Column("expires_at", Float, nullable=False),
)

# A refresh-token family: every token rotated from one grant. Using a token that was already
# rotated away (a replay) revokes the whole family.
oauth_refresh_families = Table(
    "oauth_refresh_families", metadata,
    Column("id", String(32), primary_key=True),
    Column("client_id", ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
           nullable=False),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("scope", Text, nullable=False),
    Column("auth_time", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Index("ix_oauth_refresh_families_account", "account_id"),
)

oauth_refresh_tokens = Table(
    "oauth_refresh_tokens", metadata,
    Column("token_hash", String(200), primary_key=True),
    Column("family_id", ForeignKey("oauth_refresh_families.id", ondelete="CASCADE"),
           nullable=False),
    Column("access_token_id", String(64), nullable=False),  # the jti issued with it
    Column("issued_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("rotated_at", Float, nullable=True),  # set when exchanged: a second use is a replay
    Index("ix_oauth_refresh_tokens_family", "family_id"),
)

#: MFA is required of the accounts of these plans and departments (scope plan | department).
mfa_requirements = Table(
    "mfa_requirements", metadata,
    Column("scope", String(16), primary_key=True),
    Column("scope_id", Integer, primary_key=True),
)

#: An account's TOTP authenticator: the secret sealed with DIR/mfa.key, confirmed by a first
#: code; the last accepted time step (no code is accepted twice) and the wrong codes in a row.
totp_factors = Table(
    "totp_factors", metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("confirmed_at", Float, nullable=True),
    Column("last_step", BigInteger, nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("last_failure_at", Float, nullable=True),
)

#: Single-use recovery codes, as keyed hashes (DIR/mfa.key); `used_at` once used.
recovery_codes = Table(
    "recovery_codes", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
    Index("ix_recovery_codes_account_hash", "account_id", "code_hash"),
)

#: WebAuthn authenticators registered as a second factor (credential id in base64url).
webauthn_credentials = Table(
    "webauthn_credentials", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("credential_id", String(1400), nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("label", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Index("ix_webauthn_credentials_account", "account_id"),
)

#: The one open WebAuthn challenge per account and ceremony (register | authenticate):
#: used once, and only until it expires.
webauthn_challenges = Table(
    "webauthn_challenges", metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("ceremony", String(16), primary_key=True),
    Column("challenge", LargeBinary, nullable=False),
    Column("expires_at", Float, nullable=False),
)

#: Operator API keys for the admin REST API: each acts as one staff account (`created_by`
#: made it); the secret is kept only as a keyed hash, found by it.
api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(128), nullable=False),
    Column("secret_hash", String(200), nullable=False),
    Column("created_by", String(254), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
    Index("ix_api_keys_secret", "secret_hash", unique=True),
)

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

# Jobs that one node of the cluster does at a time (the outbound queue's runner): the node
# named holds the duty while its heartbeat lasts (`mailgate.duties`).
node_duties = Table(
    "node_duties", metadata,
    Column("name", String(64), primary_key=True),
    Column("node", String(64), nullable=False),
    Column("acquired_at", Float, nullable=False),
)

# Mail for other domains waiting to leave (`mailgate.outbound`): one row per recipient, the
# message itself in the spool file named by `queue_id`. state: queued (waits for
# next_attempt_at), sending (the final dot went out: the remote may have it), held (an
# attempt was cut off while sending: waits for the operator, never sent twice on its own).
outbound_queue = Table(
    "outbound_queue", metadata,
    Column("id", Integer, primary_key=True),
    Column("queue_id", String(32), nullable=False),
    Column("sender", Text, nullable=False),  # the envelope sender: a bounce goes there
    Column("recipient", Text, nullable=False),
    Column("mail_options", Text, nullable=False, server_default=""),  # SMTPUTF8 BODY= RET=
    Column("rcpt_options", Text, nullable=False, server_default=""),  # NOTIFY= ORCPT= (0021)
    Column("delay_warned", Boolean, nullable=False, server_default=false()),  # (0021)
    Column("size", BigInteger, nullable=False),
    Column("queued_at", Float, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("state", String(16), nullable=False, server_default="queued"),
    Column("last_error", Text, nullable=False, server_default=""),
    Index("ix_outbound_queue_due", "state", "next_attempt_at"),
    Index("ix_outbound_queue_queue_id", "queue_id"),
)
