"""The embedded stores require generated credentials, and the platform's state is private.

Learners' code runs on this machine, and anything here can open a TCP connection to 127.0.0.1:
the stores must answer only clients holding their password, that password must not show in
any process's command line (``ps`` is world-readable), and the files holding it - like the
whole data dir - must be readable by the platform's user only.
"""

from __future__ import annotations

import argparse
import socket
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pymongo
import pytest
import redis
from pymongo.errors import OperationFailure
from redis.backoff import NoBackoff
from redis.retry import Retry

from peerplatform.cli import up
from peerplatform.embedded import EmbeddedMongo, EmbeddedRedis, free_port, wait_for_port
from peerplatform.settings import SecretFileError, prepare_data_dir, read_or_create_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def command_lines() -> list[str]:
    """Every process's command line we can read, as one string each."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        found.append(" ".join(proc.info["cmdline"] or []))
    return found


def assert_in_no_command_line(secret: str) -> None:
    leaks = [cmd for cmd in command_lines() if secret in cmd]
    assert leaks == [], "the password is on a command line"
    # and in the raw /proc/<pid>/cmdline, which is what `ps` reads for every user
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            raw = cmdline.read_bytes()
        except OSError:  # the process ended meanwhile
            continue
        assert secret.encode() not in raw, f"the password is in {cmdline}"


# --- Redis ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis-secrets"))
    server.start()
    yield server
    server.stop()


def bare_redis(port: int, **kwargs) -> redis.Redis:
    """A client that gives up at once: redis-py retries AuthenticationError (a
    ConnectionError) with backoff by default."""
    return redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0), **kwargs)


def test_redis_refuses_a_client_without_the_password(own_redis):
    with pytest.raises(redis.exceptions.AuthenticationError):
        bare_redis(own_redis.port).ping()
    # RESP2 sends the command itself: the server answers "-NOAUTH Authentication required."
    with pytest.raises(redis.exceptions.AuthenticationError, match="Authentication required"):
        bare_redis(own_redis.port, protocol=2).set("k", "v")
    with pytest.raises(redis.exceptions.AuthenticationError):
        bare_redis(own_redis.port, password="guessed").ping()


def test_redis_refuses_a_raw_connection_without_auth(own_redis):
    """No client library in between: what any process on the machine would see."""
    with socket.create_connection(("127.0.0.1", own_redis.port), timeout=5) as s:
        s.sendall(b"SET pp:lb:board:overall 1\r\n")
        reply = s.recv(200)
    assert reply.startswith(b"-NOAUTH"), reply


def test_redis_accepts_the_url_it_hands_out(own_redis):
    parts = urlsplit(own_redis.url)
    assert parts.password == own_redis.password and parts.hostname == "127.0.0.1"
    client = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        assert client.set("pp:test", "ok") and client.get("pp:test") == "ok"
    finally:
        client.close()
    assert own_redis.password not in own_redis.display_url


def test_the_shared_redis_fixture_requires_its_password(redis_url):
    """``redis_url`` (tests/conftest.py), which the other tests use, is such a Redis too."""
    parts = urlsplit(redis_url)
    assert parts.password
    with pytest.raises(redis.exceptions.AuthenticationError):
        bare_redis(parts.port).ping()
    assert redis.Redis.from_url(redis_url).ping()


def test_redis_password_is_in_no_command_line(own_redis):
    assert_in_no_command_line(own_redis.password)
    # the server was started with its config file, which holds the password
    cmdline = psutil.Process(own_redis.proc.pid).cmdline()
    assert "requirepass" not in " ".join(cmdline)


def test_redis_password_and_config_files_are_private(own_redis):
    assert mode(own_redis.password_file) == 0o600
    assert mode(own_redis.config_file) == 0o600
    assert mode(own_redis.log_path) == 0o600
    assert own_redis.password_file.read_text().strip() == own_redis.password
    assert own_redis.password in own_redis.config_file.read_text()


def test_redis_password_is_kept_per_data_dir(tmp_path):
    first = EmbeddedRedis(tmp_path / "a")
    with first:
        pass
    again, other = EmbeddedRedis(tmp_path / "a"), EmbeddedRedis(tmp_path / "b")
    with again:
        assert redis.Redis.from_url(again.url).ping()
    assert again.password == first.password
    assert other.password != first.password


# --- MongoDB-compatible server (SecantusDB --auth) ------------------------------------------

@pytest.fixture(scope="module")
def own_mongo(tmp_path_factory):
    """On disk (not ``memory``), so the tests can restart it on the same data."""
    server = EmbeddedMongo(tmp_path_factory.mktemp("mongo-secrets"))
    server.start()
    yield server
    server.stop()


def mongo_client(url: str) -> pymongo.MongoClient:
    return pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)


def without_credentials(server: EmbeddedMongo) -> str:
    return f"mongodb://127.0.0.1:{server.port}/?directConnection=true"


def test_mongo_refuses_a_client_without_credentials(own_mongo):
    client = mongo_client(without_credentials(own_mongo))
    try:
        with pytest.raises(OperationFailure) as refused:
            client.pp_test.challenges.find_one()
        assert refused.value.code == 13  # Unauthorized: "requires authentication"
        with pytest.raises(OperationFailure) as refused:
            client.pp_test.profiles.update_one({"_id": "me"}, {"$set": {"rating": 2999}},
                                               upsert=True)
        assert refused.value.code == 13
    finally:
        client.close()


def test_mongo_refuses_a_wrong_password(own_mongo):
    url = own_mongo.url.replace(own_mongo.password, "0" * len(own_mongo.password))
    client = mongo_client(url)
    try:
        with pytest.raises(OperationFailure) as refused:
            client.pp_test.challenges.find_one()
        assert refused.value.code == 18  # AuthenticationFailed
    finally:
        client.close()


def test_mongo_accepts_the_url_it_hands_out(own_mongo):
    parts = urlsplit(own_mongo.url)
    assert (parts.username, parts.password) == (EmbeddedMongo.user, own_mongo.password)
    client = mongo_client(own_mongo.url)
    try:
        client.pp_test.things.insert_one({"_id": "x"})
        assert client.pp_test.things.find_one({"_id": "x"}) == {"_id": "x"}
    finally:
        client.close()
    assert own_mongo.password not in own_mongo.display_url


def test_mongo_password_is_in_no_command_line(own_mongo):
    assert_in_no_command_line(own_mongo.password)
    assert "--auth" in psutil.Process(own_mongo.proc.pid).cmdline()


def test_mongo_password_and_config_files_are_private(own_mongo):
    assert mode(own_mongo.password_file) == 0o600
    assert mode(own_mongo.config_file) == 0o600
    assert mode(own_mongo.log_path) == 0o600
    assert own_mongo.password_file.read_text().strip() == own_mongo.password


def test_mongo_restart_keeps_credentials_and_data(own_mongo):
    own_mongo.stop()
    own_mongo.start()
    client = mongo_client(own_mongo.url)
    try:
        client.pp_test.kept.insert_one({"_id": 1})
        own_mongo.stop()
        own_mongo.start()
        assert client.pp_test.kept.find_one({"_id": 1}) == {"_id": 1}
    finally:
        client.close()


def test_a_user_slipped_in_without_auth_is_dropped_at_start(tmp_path):
    """A provisioning run is open for a moment: whatever user someone else created in that
    time is gone once the authenticated server is up."""
    server = EmbeddedMongo(tmp_path)
    server.start()
    server.stop()
    port = free_port()
    # the same store run without --auth, as during provisioning
    proc = subprocess.Popen(server.command(port=port, auth=False), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 30, proc)
        intruder = mongo_client(f"mongodb://127.0.0.1:{port}/?directConnection=true")
        intruder.admin.command("createUser", "intruder", pwd="let-me-in", roles=["root"])
        intruder.close()
    finally:
        proc.terminate()
        proc.wait(30)
    with server:
        client = mongo_client(server.url)
        users = [u["user"] for u in client.admin["system.users"].find()]
        client.close()
        assert users == [EmbeddedMongo.user]
        sneaky = mongo_client(f"mongodb://intruder:let-me-in@127.0.0.1:{server.port}/"
                              "?directConnection=true&authSource=admin")
        with pytest.raises(OperationFailure) as refused:
            sneaky.pp_test.challenges.find_one()
        sneaky.close()
        assert refused.value.code == 18


def test_a_new_password_file_replaces_the_old_password(tmp_path):
    server = EmbeddedMongo(tmp_path)
    with server:
        old = server.url
    server.password_file.unlink()
    renewed = EmbeddedMongo(tmp_path)
    with renewed:
        assert renewed.password != server.password
        client = mongo_client(renewed.url)
        assert client.pp_test.things.count_documents({}) == 0
        client.close()
        stale = mongo_client(old.replace(f":{server.port}/", f":{renewed.port}/"))
        with pytest.raises(OperationFailure) as refused:
            stale.pp_test.things.count_documents({})
        stale.close()
        assert refused.value.code == 18


def test_memory_store_leaves_nothing_behind(tmp_path):
    server = EmbeddedMongo(tmp_path, memory=True)
    with server:
        client = mongo_client(server.url)
        client.pp_test.things.insert_one({"_id": 1})
        client.close()
        storage = server.storage
        assert storage.is_dir() and mode(storage) == 0o700
    assert not storage.exists()


# --- secret files and the data dir ----------------------------------------------------------

def test_secret_file_open_to_others_is_narrowed_to_0600(tmp_path):
    path = tmp_path / "voice_secret"
    path.write_text("ab" * 32 + "\n")
    path.chmod(0o644)
    assert read_or_create_secret(path) == "ab" * 32
    assert mode(path) == 0o600


def test_new_secret_file_is_0600_in_a_private_folder(tmp_path):
    path = tmp_path / "state" / "jupyterhub_cookie_secret"
    value = read_or_create_secret(path)
    assert len(bytes.fromhex(value)) == 32
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_secret_path_that_is_a_directory_is_refused(tmp_path):
    path = tmp_path / "voice_secret"
    path.mkdir()
    with pytest.raises(SecretFileError, match="not a regular file"):
        read_or_create_secret(path)
    assert path.is_dir()  # left as it was


def test_empty_secret_file_gets_a_secret(tmp_path):
    path = tmp_path / "voice_secret"
    path.touch(mode=0o600)
    value = read_or_create_secret(path)
    assert value and path.read_text().strip() == value


def test_data_dir_is_created_private(tmp_path):
    data_dir = prepare_data_dir(tmp_path / "new" / ".peerplatform")
    assert data_dir.is_dir() and mode(data_dir) == 0o700


def test_existing_data_dir_is_tightened(tmp_path):
    data_dir = tmp_path / ".peerplatform"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    (data_dir / "jupyterhub.sqlite").write_bytes(b"")
    assert prepare_data_dir(data_dir) == data_dir.resolve()
    assert mode(data_dir) == 0o700


def test_data_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / ".peerplatform"
    path.write_text("")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        prepare_data_dir(path)


def test_up_makes_its_data_dir_private(tmp_path):
    """``peerplatform up`` prepares the data dir before anything else: with a config file
    that is not there it stops right after, without starting a store."""
    data_dir = tmp_path / "state"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    args = argparse.Namespace(data_dir=str(data_dir), config=str(tmp_path / "missing.py"),
                              verbose=False)
    with pytest.raises(SystemExit, match="jupyterhub_config.py not found"):
        up(args)
    assert mode(data_dir) == 0o700
    assert list(data_dir.iterdir()) == []
