"""The platform's settings: defaults from the environment, validation with the fix named."""

from __future__ import annotations

import stat

import pytest
from traitlets import TraitError
from traitlets.config import Config

from peerplatform.settings import SERVER_NAME_RE, PeerPlatform, read_or_create_secret


def test_store_urls_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://example:6379/0")
    monkeypatch.setenv("MONGODB_URI", "mongodb://example:27017")
    s = PeerPlatform()
    assert s.redis_url == "redis://example:6379/0"
    assert s.mongodb_uri == "mongodb://example:27017"
    s.check()


def test_config_beats_the_environment(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://env:6379/0")
    cfg = Config()
    cfg.PeerPlatform.redis_url = "redis://config:6379/0"
    assert PeerPlatform(config=cfg).redis_url == "redis://config:6379/0"


def test_missing_stores_fail_with_the_fix(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("MONGODB_URI", "mongodb://x")
    with pytest.raises(ValueError, match="peerplatform up"):
        PeerPlatform().check()
    monkeypatch.setenv("REDIS_URL", "redis://x")
    monkeypatch.delenv("MONGODB_URI")
    with pytest.raises(ValueError, match="MONGODB_URI"):
        PeerPlatform().check()


def test_heartbeat_must_be_shorter_than_presence(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://x")
    monkeypatch.setenv("MONGODB_URI", "mongodb://x")
    with pytest.raises(ValueError, match="heartbeat_interval"):
        PeerPlatform(heartbeat_interval=10, presence_ttl=10).check()


@pytest.mark.parametrize("value", [0, 5, 5 * 3600])
def test_session_duration_is_bounded(value):
    with pytest.raises(TraitError):
        PeerPlatform(session_duration=value)


def test_pair_owner_must_be_a_hub_username():
    with pytest.raises(TraitError):
        PeerPlatform(pair_owner="Not A User")


def test_secret_is_created_once_and_private(tmp_path):
    path = tmp_path / "sub" / "secret"
    first = read_or_create_secret(path)
    assert read_or_create_secret(path) == first
    assert len(bytes.fromhex(first)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_cookie_secret_from_env_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("PEERPLATFORM_COOKIE_SECRET", "ab" * 32)
    assert PeerPlatform(data_dir=str(tmp_path)).cookie_secret() == bytes.fromhex("ab" * 32)
    assert not (tmp_path / "service_cookie_secret").exists()


@pytest.mark.parametrize("name, ok", [("s-abc123def456", True), ("s", False), ("S-abc", False),
                                      ("s-" + "a" * 29, False), ("s-abc-", False), ("1abc", False)])
def test_server_name_rule_matches_jupyterhub_6(name, ok):
    assert bool(SERVER_NAME_RE.match(name)) is ok


def test_match_rules_come_from_the_settings():
    import math

    cfg = Config()
    cfg.PeerPlatform.match_window_start = 10.0
    cfg.PeerPlatform.match_anyone_after = 30.0
    cfg.PeerPlatform.cohort_mode = "only"
    cfg.PeerPlatform.auto_accept = True
    rules = PeerPlatform(config=cfg).match_rules()
    assert rules.window.at(0) == 10 and rules.window.at(30) == math.inf
    assert rules.cohort_mode == "only" and rules.auto_accept and rules.handshake_s == 20
    with pytest.raises(TraitError):
        PeerPlatform(cohort_mode="sometimes")


def test_cohort_is_the_first_matching_group():
    s = PeerPlatform(cohort_group_prefix="cohort-")
    assert s.cohort_of(["staff", "cohort-b", "cohort-a"]) == "cohort-a"
    assert s.cohort_of(["staff"]) == "" and s.cohort_of(None) == ""
    assert PeerPlatform().cohort_of(["zeta", "alpha"]) == "alpha"


@pytest.mark.parametrize("fractions, duration, expected", [
    ([0.5], 600, [300]),
    ([1 / 3, 2 / 3], 900, [300, 600]),
    ([], 2700, []),
])
def test_swap_schedule_of_a_new_session(fractions, duration, expected):
    settings = PeerPlatform(config=Config({"PeerPlatform": {"swap_at_fractions": fractions}}))
    assert settings.swap_schedule_for(duration) == expected


@pytest.mark.parametrize("fractions", [[0, 0.5], [1], [0.5, 1.5], [-0.1]])
def test_swap_fractions_lie_inside_the_session(fractions):
    with pytest.raises(TraitError, match="between 0 and 1"):
        PeerPlatform(config=Config({"PeerPlatform": {"swap_at_fractions": fractions}}))
