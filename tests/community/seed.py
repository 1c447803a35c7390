"""Seed the platform's store the way the service and pair servers write it, for tests that
need sessions in a given state without running pair servers."""

from __future__ import annotations

import asyncio
import secrets

from hubuser import EventListener, HubUser

from peerplatform.store import Store

#: Cohorts known to the Hub config when the test hub starts (their instructor roles exist).
COHORTS = ["north", "south", "east"]
#: The test hub's admin (PEERPLATFORM_ADMINS).
ADMIN = "ppadmin"


def run(coro_fn):
    """Run ``coro_fn(store)`` against the hub's database with a short-lived client."""

    async def main(hub):
        store = Store(hub.mongodb_uri, hub.mongodb_database)
        try:
            return await coro_fn(store)
        finally:
            await store.close()

    return lambda hub: asyncio.run(main(hub))


def session(
    hub,
    a: str,
    b: str,
    state: str = "ended",
    outcome: dict | None = None,
    challenge: dict | None = None,
    events: list | None = None,
) -> str:
    """A session of ``a`` (driver) and ``b`` taken through the real state machine to ``state``."""

    async def go(store):
        doc = await store.sessions.create(
            members=[a, b],
            driver=a,
            observer=b,
            server_owner="pp-pairs",
            duration_s=600,
            challenge=challenge,
        )
        sid = doc["_id"]
        path = {
            "pending": [],
            "spawning": ["spawning"],
            "active": ["spawning", "active"],
            "ended": ["spawning", "active", "ended"],
            "failed": ["spawning", "failed"],
        }[state]
        for step in path:
            await store.sessions.transition(sid, step, reason="seeded by a test")
        for event in events or []:
            await store.sessions.add_event(sid, event)
        if outcome is not None:
            await store.sessions.record_outcome(sid, outcome)
        return sid

    return run(go)(hub)


def users(hub, *names) -> list[HubUser]:
    """Signed-up, logged-in learners with the service's XSRF token."""
    tag = secrets.token_hex(3)
    out = [HubUser(hub.url, f"{n}-{tag}") for n in names]
    for u in out:
        assert u.signup().status_code == 200
        assert u.login().status_code == 200
        assert u.open_lobby().status_code == 200 and u.service_xsrf
    return out


class StreamListener(EventListener):
    """An ``EventListener`` on another event stream of the service (e.g. the leaderboards')."""

    def __init__(self, user: HubUser, path: str):
        import threading

        self.events = []
        self._resp = user.http.get(
            user.url(f"services/peerplatform/api/{path}"), stream=True, timeout=(10, 300)
        )
        assert self._resp.status_code == 200, self._resp.text
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def wait_for_match(self, pred, timeout: float = 10) -> dict:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                if pred(event):
                    return event
            time.sleep(0.02)
        raise AssertionError(f"no matching event within {timeout} s; got {self.events}")
