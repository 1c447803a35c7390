"""PairSpawner's arguments, environment and refusals, on a real JupyterHub ``User`` (in-memory
Hub database) as JupyterHub's own spawner tests build them; nothing is spawned."""

from __future__ import annotations

import os

import pytest
from jupyterhub import orm
from jupyterhub.objects import Hub
from jupyterhub.user import User
from traitlets.config import Config

from spawner import PairSpawner

SESSION = "abc123def456"


@pytest.fixture
def make_spawner(tmp_path):
    db = orm.new_session_factory("sqlite:///:memory:")()

    def make(owner: str = "pp-pairs", server: str = f"s-{SESSION}", **options) -> PairSpawner:
        config = Config()
        config.PairSpawner.sessions_root = str(tmp_path / "sessions")
        for name, value in options.items():
            config.PairSpawner[name] = value
        orm_user = db.query(orm.User).filter_by(name=owner).first()
        if orm_user is None:
            orm_user = orm.User(name=owner)
            db.add(orm_user)
            db.commit()
        user = User(orm_user, {"hub": Hub(), "config": config, "spawner_class": PairSpawner,
                               "db": db})
        user._new_orm_spawner(server, "")
        return user.spawners[server]

    yield make
    db.close()


@pytest.mark.parametrize("euid", [0, 1000], ids=["root", "user"])
def test_never_allow_root_and_no_terminals(make_spawner, monkeypatch, euid):
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    spawner = make_spawner()
    spawner.apply_user_options(spawner, {"session_id": SESSION})
    args = spawner.get_args()
    assert not [a for a in args if "allow-root" in a or "allow_root" in a]
    assert "--ServerApp.terminals_enabled=False" in args
    on = make_spawner(terminals_enabled=True)
    on.apply_user_options(on, {"session_id": SESSION})
    assert "--ServerApp.terminals_enabled=True" in on.get_args()


@pytest.mark.skipif(os.geteuid() != 0, reason="the server user applies only to a root Hub")
def test_as_root_the_server_runs_as_the_unprivileged_server_user(make_spawner):
    spawner = make_spawner()
    account = spawner.server_account()
    assert account.pw_name == "pp-server" and account.pw_uid != 0
    for bad, message in (("root", "is root"), ("pp-kernel", "different users"),
                         ("no-such-user-pp", "does not exist")):
        with pytest.raises(RuntimeError, match=message):
            make_spawner(server_user=bad).server_account()


def test_a_hub_that_is_not_root_runs_servers_as_itself(make_spawner, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert make_spawner().server_account() is None


def test_the_sandbox_settings_reach_the_pair_server(make_spawner, monkeypatch):
    monkeypatch.setenv("PEERPLATFORM_KERNEL_MEMORY_MB", "512")
    from learner_sandbox import SandboxSettings

    SandboxSettings.clear_instance()
    try:
        spawner = make_spawner()
        spawner.apply_user_options(spawner, {"session_id": SESSION})
        spawner.session_dir.mkdir(parents=True)
        env = spawner.get_env()
        assert env["PEERPLATFORM_KERNEL_MEMORY_MB"] == "512"
        assert env["PEERPLATFORM_KERNEL_USER"] == "pp-kernel"
        assert env["PEERPLATFORM_UNSAFE_NO_SANDBOX"] == ""
    finally:
        SandboxSettings.clear_instance()


@pytest.mark.parametrize("configured, expected", [({}, 10), ({"hub_auth_cache_max_age": 3}, 3)])
def test_identity_cache_and_pair_authorizer_in_the_arguments(make_spawner, configured, expected):
    spawner = make_spawner(**configured)
    spawner.apply_user_options(spawner, {"session_id": SESSION})
    args = spawner.get_args()
    assert [a for a in args if a.startswith("--HubOAuth.cache_max_age=")] == [
        f"--HubOAuth.cache_max_age={expected}"
    ]
    assert "--ServerApp.authorizer_class=peerplatform_ext.auth.PairAuthorizer" in args
    assert "--LabApp.extension_manager=readonly" in args


def test_env_names_the_session_its_own_notebook_root_and_the_service(make_spawner,
                                                                     monkeypatch, tmp_path):
    # everything the Hub process holds that a pair server must never get
    secrets = {
        "REDIS_URL": "redis://127.0.0.1:6399/0",
        "MONGODB_URI": "mongodb://127.0.0.1:27099/?directConnection=true",
        "PEERPLATFORM_MONGODB_DB": "pp_unit",
        "TWILIO_AUTH_TOKEN": "hub-only-secret",
        "TWILIO_API_KEY_SECRET": "twilio-key-secret",
        "PEERPLATFORM_VOICE_SECRET": "voice-secret",
        "PEERPLATFORM_TURN_SECRET": "turn-secret",
        "PEERPLATFORM_SERVICE_TOKEN": "service-token",
        "PEERPLATFORM_GRADER_CONCURRENCY": "3",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PEERPLATFORM_SERVICE_PORT", "10999")
    first = make_spawner()
    other = make_spawner(server="s-zzz999yyy888")
    first.apply_user_options(first, {"session_id": SESSION})
    other.apply_user_options(other, {"session_id": "zzz999yyy888"})
    for spawner in (first, other):
        spawner.session_dir.mkdir(parents=True)  # as start() does before get_env

    env = first.get_env()
    session_dir = tmp_path / "sessions" / SESSION
    assert env["PEERPLATFORM_SESSION_ID"] == SESSION
    assert env["PEERPLATFORM_SESSION_DIR"] == str(session_dir)
    # the notebook root is the session's work/ (its RTC stores sit beside it), made here
    assert env["JUPYTERHUB_ROOT_DIR"] == str(session_dir / "work")
    assert (session_dir / "work").is_dir()
    assert other.get_env()["JUPYTERHUB_ROOT_DIR"] == str(tmp_path / "sessions/zzz999yyy888/work")
    # the service's pair API, as pair servers on this machine reach it
    assert env["PEERPLATFORM_API_URL"] == \
        "http://127.0.0.1:10999/services/peerplatform/api/pair/"
    for name, value in secrets.items():
        assert name not in env, name
        assert value not in env.values(), name


def test_the_pair_api_url_is_configurable(make_spawner):
    spawner = make_spawner(
        platform_api_url="http://peerplatform.jhub.svc:10101/services/pp/api/pair")
    spawner.apply_user_options(spawner, {"session_id": SESSION})
    assert spawner.get_env()["PEERPLATFORM_API_URL"] == \
        "http://peerplatform.jhub.svc:10101/services/pp/api/pair/"


async def test_a_server_for_anyone_but_the_pair_owner_is_refused(make_spawner, tmp_path):
    spawner = make_spawner(owner="alice", server=f"s-{SESSION}")
    spawner.apply_user_options(spawner, {"session_id": SESSION})
    with pytest.raises(PermissionError, match="pp-pairs"):
        await spawner.start()
    assert spawner.proc is None
    assert not (tmp_path / "sessions").exists()


async def test_the_configured_owner_is_the_only_one(make_spawner, tmp_path):
    spawner = make_spawner(pair_owner="pairs-bot")
    spawner.apply_user_options(spawner, {"session_id": SESSION})
    with pytest.raises(PermissionError, match="pairs-bot"):
        await spawner.start()
    assert not (tmp_path / "sessions").exists()


async def test_a_server_without_a_session_is_refused(make_spawner, tmp_path):
    spawner = make_spawner()
    with pytest.raises(ValueError, match="session_id"):
        await spawner.start()
    assert spawner.proc is None
    assert not (tmp_path / "sessions").exists()


def test_refused_options_are_not_kept_for_the_next_start(make_spawner):
    spawner = make_spawner()
    bad = {"session_id": SESSION, "driver": "mallory"}
    spawner.orm_spawner.user_options = bad  # the Hub saves the body before asking the spawner
    with pytest.raises(ValueError, match="driver"):
        spawner.apply_user_options(spawner, bad)
    assert spawner.user_options == {}
    assert spawner.orm_spawner.user_options == {}
    assert spawner.session_id == ""


def test_the_session_survives_in_the_spawner_state(make_spawner):
    spawner = make_spawner()
    spawner.apply_user_options(spawner, {"session_id": SESSION})
    state = spawner.get_state()
    restored = make_spawner(server="s-restored0000")
    restored.load_state(state)
    assert restored.session_id == SESSION
    restored.clear_state()
    assert restored.session_id == "" and "session_id" not in restored.get_state()
