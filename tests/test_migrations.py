"""Migrations: one head, and the schema they build is the one the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.config import PROJECT_ROOT
from app.extensions import db
from app.store.models import Base


def test_exactly_one_head():
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrated_schema_matches_models(app_context):
    # given the database built by the migrations (PostgreSQL or SQLite, whichever this run uses)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        # then autogenerate finds nothing to add, drop or change
        assert compare_metadata(context, Base.metadata) == []
