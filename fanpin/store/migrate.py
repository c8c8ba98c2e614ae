"""Schema versions through Alembic: upgrade, and the check an app runs at start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from fanpin.store.engine import StoreError, is_corruption

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except sa_exc.DatabaseError as exc:
        if is_corruption(exc):
            raise StoreError("db_corrupt", f"database is damaged: {exc.orig}", path=str(engine.url.database)) from exc
        raise


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        from fanpin.store.io import ensure_database_id

        ensure_database_id(conn)


def check_schema(engine: Engine) -> None:
    """Raise StoreError unless the database is at the newest schema version."""
    current = current_revision(engine)
    head = head_revision()
    if current is None:
        raise StoreError("db_empty", "database has no fanpin schema; run `fanpin db upgrade` or `fanpin demo`")
    if current != head:
        script = ScriptDirectory(str(MIGRATIONS))
        known = {rev.revision for rev in script.walk_revisions()}
        if current not in known:
            raise StoreError(
                "db_newer",
                f"database schema {current} is newer than this fanpin ({head}); update fanpin",
                current=current,
                head=head,
            )
        raise StoreError(
            "db_old",
            f"database schema {current} is older than {head}; run `fanpin db upgrade`",
            current=current,
            head=head,
        )
