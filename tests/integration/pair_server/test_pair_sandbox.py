"""A pair server's kernels run in the learner sandbox, one per session, and none runs when the
sandbox cannot be had (fail closed: both learners are told why). A real ``jupyter server`` with
our extension (``pairkit``); the kernel is driven over its channels as JupyterLab does.

The adversarial matrix through the whole platform is ``tests/security``; this is the pair
server's own contract with ``peerplatform_ext.kernels``.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import httpx
import psutil
import pytest
import websockets
from learner_sandbox.limits import SessionCgroup
from pairkit import DRIVER, OBSERVER, EventStream

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(os.geteuid() != 0, reason=(
                  "runs as root, as CI does: learner code then runs as pp-kernel"))]

KERNEL_USER = "pp-kernel"
SESSION = {"path": "session.ipynb", "type": "notebook", "name": "session.ipynb",
           "kernel": {"name": "python3"}}


def wait_for_notebook(server, timeout: float = 20) -> None:
    """The extension writes the session notebook at start; JupyterLab opens it after."""
    deadline = time.monotonic() + timeout
    while not (server.work / "session.ipynb").exists():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)


def stop(server) -> None:
    server.stop()
    cg = SessionCgroup(server.session_id)  # created by ``enter`` as root: ours to remove
    deadline = time.monotonic() + 5
    while any(d.exists() for d in cg.dirs) and time.monotonic() < deadline:
        cg.remove()
        time.sleep(0.05)
    shutil.rmtree(server.session_dir, ignore_errors=True)


def kernel_processes(server) -> list[psutil.Process]:
    """ipykernel processes under the pair server (inside their sandboxes or not)."""
    out = []
    for p in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            if "ipykernel_launcher" in " ".join(p.cmdline()) and p.name() != "bwrap":
                out.append(p)
        except psutil.Error:
            pass
    return out


async def execute(server, kernel_id: str, code: str, timeout: float = 60) -> str:
    """Run ``code`` in the kernel as the driver's JupyterLab would; its stdout."""
    session = uuid.uuid4().hex
    async with websockets.connect(
            server.ws_url(f"/api/kernels/{kernel_id}/channels?session_id={session}"),
            additional_headers=server.auth(DRIVER), max_size=None) as ws:
        msg_id = uuid.uuid4().hex
        await ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": DRIVER,
                       "session": session, "version": "5.3",
                       "date": datetime.now(timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        stdout, error, replied, idle = "", None, False, False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            left = deadline - time.monotonic()
            assert left > 0, f"no reply in {timeout} s; stdout {stdout!r}\n{server.log()}"
            raw = await asyncio.wait_for(ws.recv(), left)
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                stdout += content["text"]
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
        assert error is None, error
        return stdout


WHO = ("import json, os\n"
       "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'cwd': os.getcwd(),\n"
       "                  'env': sorted(os.environ)}))")


# -- fail closed ----------------------------------------------------------------------------------


NO_KERNEL_USER = "c.SandboxSettings.user = 'pp-no-such-user'\n"
#: as the spawner starts pair servers unless c.PairSpawner.terminals_enabled
NO_TERMINALS = "c.ServerApp.terminals_enabled = False\n"


@pytest.fixture
def no_kernel_user(pair_server_factory):
    """A pair server whose kernel user does not exist (as root: no sandbox can be had)."""
    server = pair_server_factory(extra_config=NO_KERNEL_USER + NO_TERMINALS)
    wait_for_notebook(server)
    yield server
    stop(server)


async def test_no_kernel_starts_without_the_sandbox_and_both_learners_are_told(no_kernel_user):
    server = no_kernel_user
    async with EventStream(server, DRIVER) as alice, EventStream(server, OBSERVER) as bob:
        r = await server.request(DRIVER, "POST", "/api/sessions", SESSION)
        assert r.status_code in (500, 503), (r.status_code, r.text)
        assert "sandbox is unavailable" in r.text and "'pp-no-such-user'" in r.text, r.text
        # the kernel API itself refuses the same way
        r = await server.request(DRIVER, "POST", "/api/kernels", {"name": "python3"})
        assert r.status_code == 503, (r.status_code, r.text)
        message = r.json()["message"]
        assert message.startswith("The kernel cannot start: its sandbox is unavailable (")
        assert "the kernel user 'pp-no-such-user' does not exist" in message
        assert "useradd" in message  # the fix, for the operator

        for member in (alice, bob):
            event = await member.wait_for("kernel")
            assert event["data"]["reason"] == "sandbox", event
            assert "the kernel user 'pp-no-such-user' does not exist" in \
                event["data"]["message"], event
            assert event["session"] == server.session_id
    r = await server.request(DRIVER, "GET", "/api/kernels")
    assert r.status_code == 200 and r.json() == []
    assert kernel_processes(server) == []
    assert "The kernel cannot start: its sandbox is unavailable" in server.log()


def test_with_terminals_on_an_unavailable_sandbox_is_named(pair_server_factory):
    server = pair_server_factory(start=False, extra_config=NO_KERNEL_USER)
    try:
        server.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={server.config_path}"],
            cwd=server.session_dir, env=server.env, stdout=open(server.log_path, "ab"),
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while server.proc.poll() is None and time.monotonic() < deadline:
            if "Jupyter Server" in server.log() and " is running at" in server.log():
                break
            time.sleep(0.2)
        log = server.log()
        if server.proc.poll() is not None:
            # refused to run: the refusal itself says why
            refusal = [line for line in log.splitlines() if "refusing to run" in line]
            assert refusal and "pp-no-such-user" in refusal[-1], log
        else:
            # ran: then neither a terminal nor a kernel starts unconfined
            r = httpx.post(server.url("/api/terminals"), headers=server.auth(DRIVER))
            assert r.status_code >= 400, r.text
            r = httpx.post(server.url("/api/kernels"), headers=server.auth(DRIVER),
                           content=json.dumps({"name": "python3"}), timeout=60)
            assert r.status_code == 503 and "pp-no-such-user" in r.text, r.text
    finally:
        stop(server)


# -- the sandboxed kernel, one per session --------------------------------------------------


@pytest.fixture(scope="module")
def sandboxed(pair_server_factory, tmp_path_factory):
    """A pair server whose kernel specs include one naming the plain ``local-provisioner``."""
    specs = tmp_path_factory.mktemp("jupyter-path")
    spec_dir = specs / "kernels" / "unsandboxed"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (no sandbox)", "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "local-provisioner"}},
    }))
    server = pair_server_factory(start=False)
    server.env["JUPYTER_PATH"] = str(specs)
    server.start()
    wait_for_notebook(server)
    yield server
    stop(server)


async def test_a_kernel_spec_naming_another_provisioner_is_refused(sandboxed):
    r = await sandboxed.request(DRIVER, "GET", "/api/kernelspecs")
    assert "unsandboxed" in r.json()["kernelspecs"], r.text  # the spec is really there
    r = await sandboxed.request(DRIVER, "POST", "/api/kernels", {"name": "unsandboxed"})
    assert r.status_code == 403, (r.status_code, r.text)
    assert "asks for the 'local-provisioner' provisioner" in r.json()["message"]
    r = await sandboxed.request(DRIVER, "GET", "/api/kernels")
    assert r.json() == []
    assert kernel_processes(sandboxed) == []


async def test_the_kernel_runs_in_the_sandbox_and_is_the_only_one(sandboxed):
    r = await sandboxed.request(DRIVER, "POST", "/api/sessions", SESSION)
    assert r.status_code == 201, (r.status_code, r.text)
    kernel_id = r.json()["kernel"]["id"]
    try:
        seen = json.loads(await execute(sandboxed, kernel_id, WHO))
        assert (seen["uid"], seen["gid"], seen["cwd"]) == (1000, 1000, "/home/learner")
        for secret in ("JUPYTERHUB_API_TOKEN", "PEERPLATFORM_API_URL",
                       "PEERPLATFORM_SESSION_DIR"):
            assert secret not in seen["env"]
        assert sandboxed.token not in json.dumps(seen)
        # the server has its credential: the sandbox kept it out
        assert "JUPYTERHUB_API_TOKEN" in sandboxed.env
        # on the host, the kernel is the kernel user
        kernels = kernel_processes(sandboxed)
        assert kernels and {p.uids().real for p in kernels} == {
            pwd.getpwnam(KERNEL_USER).pw_uid}

        # one kernel per session, however it is asked for
        r = await sandboxed.request(DRIVER, "POST", "/api/kernels", {"name": "python3"})
        assert r.status_code == 409, (r.status_code, r.text)
        assert "one kernel per session" in r.json()["message"]
        r = await sandboxed.request(DRIVER, "POST", "/api/sessions", {
            **SESSION, "path": "other.ipynb", "name": "other.ipynb"})
        assert r.status_code in (409, 500), (r.status_code, r.text)
        assert "one kernel per session" in r.text
        r = await sandboxed.request(DRIVER, "GET", "/api/kernels")
        assert [k["id"] for k in r.json()] == [kernel_id]
    finally:
        await sandboxed.request(DRIVER, "DELETE", f"/api/kernels/{kernel_id}")


# -- the unsafe opt-out ---------------------------------------------------------------------------


@pytest.fixture
def unsafe(pair_server_factory):
    server = pair_server_factory(extra_config="c.SandboxSettings.unsafe_no_sandbox = True\n")
    wait_for_notebook(server)
    yield server
    stop(server)


async def test_the_unsafe_opt_out_runs_the_kernel_unconfined_and_says_so(unsafe):
    server = unsafe
    assert "UNSAFE: SandboxSettings.unsafe_no_sandbox is set" in server.log()
    r = await server.request(DRIVER, "POST", "/api/sessions", SESSION)
    assert r.status_code == 201, (r.status_code, r.text)
    seen = json.loads(await execute(server, r.json()["kernel"]["id"], WHO))
    assert seen["uid"] == os.geteuid() == 0  # the server's user: root here
    assert "JUPYTERHUB_API_TOKEN" in seen["env"]  # its environment too: what "unsafe" means
    assert "runs WITHOUT the sandbox" in server.log()
    assert {p.uids().real for p in kernel_processes(server)} == {0}
