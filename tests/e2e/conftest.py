"""Fixtures that run the whole platform (Hub + proxy + service + pair servers)."""

from __future__ import annotations

import secrets

import pytest

from e2e_hub import start_hub as _start_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory, redis_url, mongodb_uri):
    """The platform on its embedded defaults (sqlite Hub DB)."""
    h = _start_hub(tmp_path_factory, redis_url, mongodb_uri)
    yield h
    h.stop()


@pytest.fixture(scope="module")
def postgres_db_url():
    """A fresh PostgreSQL database for the Hub, or a skip saying why there is none."""
    try:
        import psycopg2
    except ImportError:
        pytest.skip("psycopg2 is not installed")
    name = "pp_hub_" + secrets.token_hex(4)
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres",
                                connect_timeout=3)
    except psycopg2.OperationalError as e:
        pytest.skip(f"no PostgreSQL reachable at 127.0.0.1:5432 ({str(e).strip()})")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture(scope="module")
def postgres_hub(tmp_path_factory, redis_url, mongodb_uri, postgres_db_url):
    h = _start_hub(tmp_path_factory, redis_url, mongodb_uri, db_url=postgres_db_url)
    yield h
    h.stop()
