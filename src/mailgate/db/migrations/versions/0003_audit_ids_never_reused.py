"""Audit ids are never reused: SQLite remembers the highest audit id ever written.

On SQLite `audit_log` is rebuilt with AUTOINCREMENT, so `sqlite_sequence` keeps the highest
id even when rows are cut off the end; PostgreSQL's serial sequence is moved up to the
newest id (mailgate moves it along with every append from now on). Rows are kept as they
are: the first `init` or `serve` after this upgrade checks them under the old unkeyed scheme
and re-keys them (mailgate/audit/seal.py).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _rebuild(autoincrement: bool) -> None:
    with op.batch_alter_table("audit_log", recreate="always",
                              table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild(True)
    else:
        bind.execute(sa.text("SELECT setval('audit_log_id_seq', max(id)) FROM audit_log "
                             "HAVING max(id) IS NOT NULL"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(False)
