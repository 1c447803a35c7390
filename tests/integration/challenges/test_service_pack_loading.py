"""The service loads its configured packs at start: a fresh platform has challenges to
hand out, a restart changes nothing, and a broken pack loads nothing but stops nothing."""

import logging
from pathlib import Path

from challenges_loader import collect
from peerplatform.app import load_challenge_packs

PACKS = Path(__file__).resolve().parents[2] / "fixtures" / "packs"


async def test_builtin_pack_is_loaded_once_and_idempotently(store, caplog):
    caplog.set_level(logging.INFO, logger="peerplatform")
    assert await load_challenge_packs(store, ["builtin"])
    expected = len(collect(["builtin"]).challenges)
    assert await store.challenges.count() == expected
    assert f"{expected} new" in caplog.text

    caplog.clear()
    assert await load_challenge_packs(store, ["builtin"])           # a restart
    assert await store.challenges.count() == expected
    assert f"0 new, 0 updated (new version), {expected} unchanged" in caplog.text
    assert all(v["version"] == 1 for v in [await store.challenges.get(c["slug"])
                                           for c in collect(["builtin"]).challenges[:5]])


async def test_a_broken_pack_loads_nothing_and_says_why(store, caplog):
    caplog.set_level(logging.INFO, logger="peerplatform")
    specs = [str(PACKS / "ok-minimal"), str(PACKS / "missing-tests")]
    assert not await load_challenge_packs(store, specs)
    assert await store.challenges.count() == 0                      # nothing from either
    assert "NOT loaded" in caplog.text
    assert "missing-tests" in caplog.text                            # names the bad file


async def test_no_packs_configured_touches_nothing(store):
    assert await load_challenge_packs(store, [])
    assert await store.challenges.count() == 0
