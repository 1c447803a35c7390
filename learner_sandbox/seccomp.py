"""A seccomp filter for learner code: a few system calls it has no use for fail with EPERM.

Namespaces already hide every other process; the filter narrows the kernel's attack surface
and stops tracing and reading the memory of the sandbox's own processes (bubblewrap's init).
bubblewrap applies it (``--seccomp FD``) to the sandboxed program only, after its own set-up.
A classic BPF program, built here rather than with libseccomp (not on PyPI as a wheel).
"""

from __future__ import annotations

import errno
import os
import platform
import struct

# struct seccomp_data: nr at offset 0, arch at 4
_LD_ABS_W, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06
_ALLOW = 0x7FFF0000
_DENY = 0x00050000 | errno.EPERM
_X32_BIT = 0x40000000

#: machine -> (AUDIT_ARCH_*, {name: number})
_ARCH = {
    "x86_64": (0xC000003E, {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "perf_event_open": 298, "bpf": 321, "userfaultfd": 323, "keyctl": 250,
        "add_key": 248, "request_key": 249, "kexec_load": 246, "kexec_file_load": 320,
        "init_module": 175, "finit_module": 313, "delete_module": 176,
        "open_by_handle_at": 304, "io_uring_setup": 425}),
    "aarch64": (0xC00000B7, {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
        "perf_event_open": 241, "bpf": 280, "userfaultfd": 282, "keyctl": 219,
        "add_key": 217, "request_key": 218, "kexec_load": 104, "kexec_file_load": 294,
        "init_module": 105, "finit_module": 273, "delete_module": 106,
        "open_by_handle_at": 265, "io_uring_setup": 425}),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture, or ``None`` where none is defined."""
    arch = _ARCH.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, numbers = arch
    denied = sorted(numbers.values())
    checks = [("jge", _X32_BIT)] if audit_arch == _ARCH["x86_64"][0] else []
    checks += [("jeq", nr) for nr in denied]
    n = len(checks)
    # 0: load arch; 1: other arch -> allow; 2: load nr; 3..3+n-1: checks; allow; deny
    out = [_insn(_LD_ABS_W, 0, 0, 4), _insn(_JEQ, 1, 0, audit_arch)]
    out.append(_insn(_RET, 0, 0, _ALLOW))
    out.append(_insn(_LD_ABS_W, 0, 0, 0))
    for i, (op, k) in enumerate(checks):
        to_deny = n - i  # past the remaining checks and the allow
        out.append(_insn(_JGE if op == "jge" else _JEQ, to_deny, 0, k))
    out.append(_insn(_RET, 0, 0, _ALLOW))
    out.append(_insn(_RET, 0, 0, _DENY))
    return b"".join(out)


def program_fd() -> int | None:
    """An inheritable file descriptor holding :func:`program`, positioned at its start."""
    data = program()
    if data is None:
        return None
    fd = os.memfd_create("pp-seccomp", 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    return fd
