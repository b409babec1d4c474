"""Run a job inside the app: settings, database and Redis bound, session cleaned up after."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, has_app_context

from app.extensions import db

F = TypeVar("F", bound=Callable[..., Any])

_app: Flask | None = None
_pid = os.getpid()


def _worker_app() -> Flask:
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


def with_app(func: F) -> F:
    """Give the job an app context; in a forked work horse, drop connections of the parent."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _pid
        if os.getpid() != _pid:
            _pid = os.getpid()
            if db.engine is not None:
                db.engine.dispose(close=False)
        if has_app_context():
            try:
                return func(*args, **kwargs)
            finally:
                db.session.remove()
        with _worker_app().app_context():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def use_app(app: Flask) -> None:
    """Make ``app`` the one jobs run in (the worker command calls this)."""
    global _app
    _app = app


def app_settings() -> Any:
    return current_app.extensions["comeback.settings"]
