"""Shared set-up for the benchmarks: a PostgreSQL database, Redis, servers in subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_environ(name: str, **extra: str) -> dict[str, str]:
    """A fresh PostgreSQL database and a Redis db for one benchmark, as app settings."""
    server = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    database = f"comeback_bench_{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')
    instance = ROOT / "instance" / f"bench-{name}"
    instance.mkdir(parents=True, exist_ok=True)
    environ = {
        **os.environ,
        "DATABASE_URL": f"{server}/{database}",
        "REDIS_URL": os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12"),
        "SECRET_KEY": "bench", "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SHOPIFY_API_KEY": "bench-key", "SHOPIFY_API_SECRET": "bench-secret",
        "COMEBACK_INSTANCE_PATH": str(instance),
    }
    environ.update(extra)
    import redis

    redis.Redis.from_url(environ["REDIS_URL"]).flushdb()
    subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "migrate"], cwd=ROOT, env=environ, check=True,
                   capture_output=True)
    return environ


def start(command: list[str], environ: dict[str, str], health_url: str) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(health_url, timeout=1)
            return process
        except httpx.HTTPError as error:
            if process.poll() is not None:
                raise SystemExit(process.stderr.read().decode()[-3000:]) from error
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{command} did not answer at {health_url}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
