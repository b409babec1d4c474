"""Settings: the embedded default, the production checks, the documented names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import REQUIRED_IN_PRODUCTION, SETTINGS_DOC, ConfigurationError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_embedded_default_needs_no_settings(tmp_path):
    # given an empty environment but an instance folder
    settings = load_settings(environ={"COMEBACK_INSTANCE_PATH": str(tmp_path)})
    # then SQLite and the embedded Redis live under it, with generated secrets kept there
    assert settings.env == "embedded"
    assert settings.database_url == f"sqlite:///{tmp_path / 'comeback.sqlite3'}"
    assert settings.redis_url is None
    assert settings.embedded_redis_path == tmp_path / "redis.db"
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert settings.secret_key == stored["SECRET_KEY"]
    assert settings.encryption_keys == (stored["ENCRYPTION_KEY"],)
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
    # and a second start reuses the same secrets
    again = load_settings(environ={"COMEBACK_INSTANCE_PATH": str(tmp_path)})
    assert again.secret_key == settings.secret_key
    assert again.shopify_api_secret == settings.shopify_api_secret


def test_embedded_mode_takes_settings_from_the_environment(tmp_path):
    settings = load_settings(environ={"COMEBACK_INSTANCE_PATH": str(tmp_path), "SHOPIFY_API_SECRET": "s3",
                                      "REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert settings.shopify_api_secret == "s3"
    assert settings.redis_url == "redis://127.0.0.1:6379/3"


def test_production_lists_every_missing_setting_at_once(tmp_path):
    with pytest.raises(ConfigurationError) as raised:
        load_settings(environ={"COMEBACK_ENV": "production", "COMEBACK_INSTANCE_PATH": str(tmp_path),
                               "SECRET_KEY": "x"})
    message = str(raised.value)
    for name in REQUIRED_IN_PRODUCTION:
        if name != "SECRET_KEY":
            assert name in message
    assert "SECRET_KEY" not in message
    assert not (tmp_path / "secrets.json").exists()


def test_production_refuses_sqlite(tmp_path):
    environ = {name: "x" for name in REQUIRED_IN_PRODUCTION}
    environ.update(COMEBACK_ENV="production", DATABASE_URL="sqlite:///x.db",
                   ENCRYPTION_KEY="x" * 43 + "=")
    with pytest.raises(ConfigurationError, match="PostgreSQL"):
        load_settings(environ=environ)


def test_bad_values_are_named(tmp_path):
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEY"):
        load_settings(environ={"COMEBACK_INSTANCE_PATH": str(tmp_path), "ENCRYPTION_KEY": "short"})
    with pytest.raises(ConfigurationError, match="WEBHOOK_BATCH_SIZE"):
        load_settings(environ={"COMEBACK_INSTANCE_PATH": str(tmp_path), "WEBHOOK_BATCH_SIZE": "many"})
    with pytest.raises(ConfigurationError, match="COMEBACK_ENV"):
        load_settings(environ={"COMEBACK_ENV": "staging"})


def test_only_config_reads_the_environment():
    offenders = []
    for folder in ("app", "connectors", "jobs"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "config.py" and path.parent.name == "app":
                continue
            text = path.read_text()
            if "os.environ" in text or "os.getenv" in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name, _default, _meaning in SETTINGS_DOC if f"`{name}`" not in readme]
    assert missing == []
