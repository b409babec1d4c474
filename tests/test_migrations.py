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


# Indexes on an expression: autogenerate cannot compare them (it skips or misreads them), so
# they are checked apart, against the database's own catalogue.
EXPRESSION_INDEXES = {"ix_orders_shop_id_email_key": ("orders", "lower(", "trim")}


def _not_an_expression_index(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def test_migrated_schema_matches_models(app_context):
    # given the database built by the migrations (PostgreSQL or SQLite, whichever this run uses)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "include_object": _not_an_expression_index})
        # then autogenerate finds nothing to add, drop or change
        assert compare_metadata(context, Base.metadata) == []


def test_the_expression_indexes_exist_as_the_models_declare_them(app_context):
    import sqlalchemy as sa

    with db.engine.connect() as connection:
        for name, (table, *parts) in EXPRESSION_INDEXES.items():
            if connection.dialect.name == "postgresql":
                found = connection.execute(sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                                           {"n": name}).scalar_one()
            else:
                found = connection.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                                           {"n": name}).scalar_one()
            assert f"{table} " in found.replace("public.", "") and all(part in found.lower() for part in parts), found
            declared = next(index for index in Base.metadata.tables[table].indexes if index.name == name)
            assert declared is not None


def test_upgrading_keeps_an_existing_loyalty_program_pricing_as_it_did(tmp_path):
    import json

    import sqlalchemy as sa
    from alembic import command

    # given a database at 0004 with a shop whose program was stored then
    url = f"sqlite:///{tmp_path / 'upgrade.db'}"
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0004")
    engine = sa.create_engine(url)
    stored = {"points_per_unit": 1, "signup_points": 50, "birthday_points": 100,
              "tiers": [{"name": "Bronze", "threshold": 0, "multiplier": "1"},
                        {"name": "Gold", "threshold": 2000, "multiplier": "1.5"}]}
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO shops (id, platform, domain, status, created_at, updated_at) "
                                   "VALUES (1, 'shopify', 'old.myshopify.com', 'active', :at, :at)"),
                           {"at": "2026-11-30 10:00:00.000000"})
        connection.execute(sa.text("INSERT INTO loyalty_programs (shop_id, version, settings, created_at) "
                                   "VALUES (1, 1, :settings, '2026-11-30 10:00:00.000000')"),
                           {"settings": json.dumps(stored)})
    # when it is upgraded
    command.upgrade(config, "head")
    with engine.connect() as connection:
        versions = connection.execute(sa.text("SELECT version, settings, created_by FROM loyalty_programs "
                                              "ORDER BY version")).all()
    engine.dispose()
    # then a second version keeps the old behaviour: no new earning, no multiplier, no expiry
    assert [v for v, _, _ in versions] == [1, 2]
    kept = json.loads(versions[1][1]) if isinstance(versions[1][1], str) else versions[1][1]
    assert (kept["signup_points"], kept["birthday_points"], kept["challenges"], kept["expiry_days"],
            kept["exclude_gift_cards"], [t["multiplier"] for t in kept["tiers"]]) == (0, 0, [], None, False, ["1", "1"])
    assert versions[1][2] == "upgrade 0005: as before"
