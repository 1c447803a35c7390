"""Cost of the learner sandbox for a kernel: start time, cell round trip, memory.

An ipykernel (kernel spec ``python3``) is started through jupyter_client as a pair server does
it: jupyter_server's ``AsyncMappingKernelManager`` with ``root_dir`` = the session's work
folder, once with jupyter_client's default ``local-provisioner`` ("plain": the kernel is a child
of this process, ZMQ over tcp on 127.0.0.1) and once with ``peerplatform-sandbox``
("sandboxed": ``learner_sandbox.enter`` → cgroup + rlimits → setpriv/unshare → bwrap → the
kernel, ZMQ over ipc sockets in ``$PEERPLATFORM_SESSION_DIR/kernels/<id>``). Only the
provisioner differs (``KernelProvisionerFactory.default_provisioner_name``, as
``peerplatform_ext.wiring`` sets it). The session folder is made by
``learner_sandbox.folders.prepare_session_dir`` under a fresh ``mkdtemp()`` of mode 0711.

* start: ``start_kernel`` → the first ``kernel_info_reply`` on the shell channel (the request
  is sent right after the launch and re-sent every second without a reply); the kernel is then
  killed. One discarded warm-up start per mode first (page cache; the sandbox probe, which a
  pair server runs once per process), reported as ``*_first``; then ``--starts`` starts,
  alternating plain and sandboxed; medians.
* round trip: ``execute_request`` of ``1+1`` → both its ``execute_reply`` (shell) and its
  ``status: idle`` (iopub), ``--runs`` times on one kernel of each mode, after 20 unmeasured.
* memory: after the round trips (kernel idle, 1 s to settle), RSS and USS (psutil) of every
  process of the sandboxed kernel (bwrap's two processes — the outer monitor and the PID
  namespace's init — and the kernel) against the plain kernel's one process.

    sudo .venv/bin/python bench/kernel_sandbox.py [--starts 20] [--runs 200]

As root the kernel runs as ``SandboxSettings.user`` (``pp-kernel``, created if missing, as
``peerplatform up`` does); the session's cgroup ``peerplatform/bench-kernel-<pid>`` is removed
at the end. The kernels' output goes to a log in the temporary folder (its tail is printed if
a kernel fails). Prints ``name=value`` lines; the goals (issue 13) are
``sandbox_start_overhead_ms`` ≤ 300 and ``roundtrip_ratio_p50`` ≤ 1.1. Not a test: nothing is
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jupyter_client.provisioning import KernelProvisionerFactory  # noqa: E402
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager  # noqa: E402
from learner_sandbox import SandboxSettings  # noqa: E402
from learner_sandbox.folders import prepare_session_dir  # noqa: E402
from learner_sandbox.limits import SessionCgroup  # noqa: E402

from peerplatform_ext.kernels import PROVISIONER, SandboxedProvisioner  # noqa: E402

PLAIN = "local-provisioner"
MODES = {"plain": PLAIN, "sandboxed": PROVISIONER}
MB = 1024 * 1024
WARM_RUNS = 20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=20,
                        help="measured kernel starts per mode (default 20)")
    parser.add_argument("--runs", type=int, default=200,
                        help="measured `1+1` round trips per mode (default 200)")
    return parser.parse_args(argv)


class Bench:
    def __init__(self, work_dir: Path, log):
        self.mkm = AsyncMappingKernelManager(root_dir=str(work_dir))
        self.factory = KernelProvisionerFactory.instance()
        self.log = log  # the kernels' stdout and stderr (a pair server's go to its own)

    async def start(self, mode: str) -> tuple[str, float]:
        """Start a kernel with ``mode``'s provisioner; (kernel id, ms to its kernel_info reply)."""
        self.factory.default_provisioner_name = MODES[mode]
        t0 = time.perf_counter()
        kernel_id = await self.mkm.start_kernel(kernel_name="python3", stdout=self.log,
                                                stderr=self.log)
        km = self.mkm.get_kernel(kernel_id)
        if (mode == "sandboxed") != isinstance(km.provisioner, SandboxedProvisioner):
            raise RuntimeError(f"the {mode} kernel was started by {type(km.provisioner).__name__}")
        kc = km.client()
        kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        try:
            while True:
                kc.kernel_info()
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    try:
                        reply = await kc.get_shell_msg(timeout=deadline - time.monotonic())
                    except Exception:  # queue.Empty
                        break
                    if reply["msg_type"] == "kernel_info_reply":
                        return kernel_id, (time.perf_counter() - t0) * 1000
                if not await km.is_alive():
                    raise RuntimeError(f"the {mode} kernel died before its kernel_info reply")
                if time.perf_counter() - t0 > 60:
                    raise RuntimeError(f"no kernel_info reply from the {mode} kernel in 60 s")
        finally:
            kc.stop_channels()

    async def stop(self, kernel_id: str) -> None:
        await self.mkm.shutdown_kernel(kernel_id, now=True)

    async def roundtrips(self, kernel_id: str, runs: int) -> list[float]:
        km = self.mkm.get_kernel(kernel_id)
        kc = km.client()
        kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        try:
            await kc.wait_for_ready(timeout=60)
            times = []
            for i in range(WARM_RUNS + runs):
                t0 = time.perf_counter()
                msg_id = kc.execute("1+1")
                while True:
                    reply = await kc.get_shell_msg(timeout=30)
                    if reply["parent_header"].get("msg_id") == msg_id:
                        break
                while True:
                    msg = await kc.get_iopub_msg(timeout=30)
                    if (msg["parent_header"].get("msg_id") == msg_id
                            and msg["msg_type"] == "status"
                            and msg["content"]["execution_state"] == "idle"):
                        break
                if i >= WARM_RUNS:
                    times.append((time.perf_counter() - t0) * 1000)
            return times
        finally:
            kc.stop_channels()

    def memory(self, kernel_id: str) -> dict:
        """RSS/USS in bytes of the launched process and everything under it, by kind."""
        root = psutil.Process(self.mkm.get_kernel(kernel_id).provisioner.process.pid)
        out = {"bwrap_rss": 0, "bwrap_uss": 0, "kernel_rss": 0, "kernel_uss": 0,
               "bwrap_procs": 0, "kernel_procs": 0}
        for proc in [root, *root.children(recursive=True)]:
            kind = "bwrap" if proc.name() == "bwrap" else "kernel"
            info = proc.memory_full_info()
            out[f"{kind}_rss"] += info.rss
            out[f"{kind}_uss"] += info.uss
            out[f"{kind}_procs"] += 1
        return out


async def measure(args: argparse.Namespace, work_dir: Path, log) -> dict:
    bench = Bench(work_dir, log)
    res: dict = {"starts": {m: [] for m in MODES}}
    for mode in MODES:  # warm-up (and the sandbox's one probe per process)
        kernel_id, ms = await bench.start(mode)
        res[f"first_{mode}"] = ms
        await bench.stop(kernel_id)
    for _ in range(args.starts):
        for mode in MODES:
            kernel_id, ms = await bench.start(mode)
            res["starts"][mode].append(ms)
            await bench.stop(kernel_id)
    for mode in MODES:
        kernel_id, _ = await bench.start(mode)
        try:
            res[f"rt_{mode}"] = await bench.roundtrips(kernel_id, args.runs)
            await asyncio.sleep(1.0)
            res[f"mem_{mode}"] = bench.memory(kernel_id)
        finally:
            await bench.stop(kernel_id)
    return res


def report(args: argparse.Namespace, res: dict, settings: SandboxSettings) -> None:
    plain = statistics.median(res["starts"]["plain"])
    boxed = statistics.median(res["starts"]["sandboxed"])
    print(f"user={os.geteuid()} kernel_user={settings.user if os.geteuid() == 0 else '(own uid)'} "
          f"cgroup_v={SessionCgroup('bench').version} starts={args.starts} runs={args.runs}")
    print(f"kernel_start_ms_plain_first={res['first_plain']:.1f} "
          f"kernel_start_ms_sandboxed_first={res['first_sandboxed']:.1f}")
    for mode, value in (("plain", plain), ("sandboxed", boxed)):
        values = res["starts"][mode]
        print(f"kernel_start_ms_{mode}={value:.1f} (min {min(values):.1f}, "
              f"p90 {percentile(values, 0.9):.1f}, max {max(values):.1f})")
    print(f"sandbox_start_overhead_ms={boxed - plain:.1f}")
    p50 = {}
    for mode in MODES:
        values = res[f"rt_{mode}"]
        p50[mode] = percentile(values, 0.5)
        print(f"cell_roundtrip_ms_p50_{mode}={p50[mode]:.2f} "
              f"cell_roundtrip_ms_p99_{mode}={percentile(values, 0.99):.2f}")
    print(f"roundtrip_ratio_p50={p50['sandboxed'] / p50['plain']:.2f}")
    mp, ms = res["mem_plain"], res["mem_sandboxed"]
    print(f"plain_kernel_rss_mb={mp['kernel_rss'] / MB:.1f} "
          f"plain_kernel_uss_mb={mp['kernel_uss'] / MB:.1f} (processes {mp['kernel_procs']})")
    print(f"sandboxed_kernel_rss_mb={ms['kernel_rss'] / MB:.1f} "
          f"sandboxed_kernel_uss_mb={ms['kernel_uss'] / MB:.1f} "
          f"bwrap_rss_mb={ms['bwrap_rss'] / MB:.1f} bwrap_uss_mb={ms['bwrap_uss'] / MB:.1f} "
          f"(bwrap processes {ms['bwrap_procs']})")
    over_rss = ms["kernel_rss"] + ms["bwrap_rss"] - mp["kernel_rss"]
    over_uss = ms["kernel_uss"] + ms["bwrap_uss"] - mp["kernel_uss"]
    print(f"sandbox_overhead_uss_mb={over_uss / MB:.1f}")
    print(f"sandbox_overhead_mb={over_rss / MB:.1f}")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = SandboxSettings.instance()
    if os.geteuid() == 0 and not _user_exists(settings.user):
        from learner_sandbox.system import ensure_system_users

        ensure_system_users(kernel_user=settings.user)  # as `peerplatform up` does
    cgroup = f"bench-kernel-{os.getpid()}"
    os.environ["PEERPLATFORM_SESSION_ID"] = cgroup
    tmp = Path(tempfile.mkdtemp(prefix="pp-bench-kernel-"))
    os.chmod(tmp, 0o711)  # the kernel user must pass it to reach the work folder
    session = tmp / "session"
    try:
        prepare_session_dir(session, server_uid=os.geteuid(), kernel_user=settings.user)
        os.environ["PEERPLATFORM_SESSION_DIR"] = str(session)
        log_path = tmp / "kernels.log"
        try:
            with open(log_path, "wb") as log:
                res = asyncio.run(measure(args, session / "work", log))
        except Exception as e:  # report, do not assert
            print(f"error={type(e).__name__}: {e}")
            tail = log_path.read_bytes()[-2000:].decode("utf-8", "replace").strip()
            if tail:
                print(f"kernel output (last 2000 bytes):\n{tail}")
            return 1
        report(args, res, settings)
        return 0
    finally:
        for _ in range(20):  # the killed kernels leave the cgroup within moments
            SessionCgroup(cgroup).remove()
            if not any(p.exists() for p in SessionCgroup(cgroup).dirs):
                break
            time.sleep(0.1)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
