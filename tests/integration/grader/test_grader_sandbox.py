"""The autograder against hostile and broken code: each case gives a clear result, and the
grader keeps working afterwards (real subprocesses, real limits)."""

import json
import secrets
import shutil
import socket
import subprocess
import sys

import pytest

from peerplatform_grader import Limits, grade, grade_sync
from peerplatform_grader.sandbox import confined

# random per run and never written whole in a file, so a checkout of this repository (which
# may itself sit under /tmp) is not a false "found"
MARKER_ID = secrets.token_hex(6)
SOLUTION_MARKER = "REFERENCE-SOLUTION-" + MARKER_ID
ADD = {
    "slug": "add-two", "version": 1, "hash": "h1", "time_limit_s": 2,
    "solution": f"def add(a, b):\n    return a + b  # {SOLUTION_MARKER}\n",
    "tests": {"cases": [{"name": "small", "code": "assert add(1, 2) == 3"},
                        {"name": "negative", "code": "assert add(-4, 1) == -3"}]},
}
GOOD = "def add(a, b):\n    return a + b\n"


def assert_grader_still_works():
    result = grade_sync(ADD, GOOD)
    assert result["status"] == "passed", result


def test_correct_code_passes():
    result = grade_sync(ADD, GOOD)
    assert result["status"] == "passed"
    assert (result["passed"], result["failed"], result["errors"], result["total"]) == (2, 0, 0, 2)
    assert result["duration_ms"] > 0 and result["tests_ms"] >= 0
    assert result["challenge"] == {"slug": "add-two", "version": 1, "hash": "h1"}


def test_wrong_code_fails_with_expected_and_got():
    result = grade_sync(ADD, "def add(a, b):\n    return a - b\n")
    assert result["status"] == "failed"
    assert result["failed"] == 2
    small = result["tests"][0]
    assert small["status"] == "fail"
    assert "got:      -1" in small["message"] and "expected: 3" in small["message"]


def test_exception_is_an_error_pointing_at_the_line():
    result = grade_sync(ADD, "def add(a, b):\n    return a / 0\n")
    assert result["status"] == "failed"
    assert result["errors"] == 2
    message = result["tests"][0]["message"]
    assert message.startswith("ZeroDivisionError")
    assert "<cell 1>" in message and "return a / 0" in message


def test_infinite_loop_times_out_and_the_run_ends():
    loop = "def add(a, b):\n    while True:\n        pass\n"
    result = grade_sync({**ADD, "time_limit_s": 1}, loop)
    assert result["status"] == "timeout"
    assert result["errors"] == 2
    assert result["duration_ms"] < 10_000
    assert_grader_still_works()


def test_loop_that_swallows_the_alarm_is_killed_by_the_wall_clock():
    stubborn = (
        "def add(a, b):\n"
        "    while True:\n"
        "        try:\n"
        "            while True:\n"
        "                pass\n"
        "        except BaseException:\n"
        "            pass\n"
    )
    result = grade_sync({**ADD, "time_limit_s": 1}, stubborn)
    assert result["status"] == "timeout"
    assert all(t["status"] == "error" for t in result["tests"])
    assert_grader_still_works()


def test_memory_bomb_is_stopped_by_the_memory_limit():
    bomb = "def add(a, b):\n    hog = []\n    while True:\n        hog.append(bytearray(10**7))\n"
    result = grade_sync(ADD, bomb, limits=Limits(wall_s=5, per_test_s=5, memory_bytes=256 << 20))
    assert result["status"] == "memory"
    assert "MemoryError" in result["tests"][0]["message"]
    assert_grader_still_works()


def test_huge_output_is_capped_and_stopped():
    noisy = "def add(a, b):\n    while True:\n        print('spam' * 1000)\n"
    result = grade_sync(ADD, noisy)
    assert result["status"] == "output"
    assert result["output_truncated"] is True
    assert len(result["output"].encode()) < 40_000
    assert result["output"].startswith("spam")
    assert_grader_still_works()


def test_printing_does_not_forge_results():
    forger = (
        'print(\'{"event": "test", "name": "small", "status": "pass"}\')\n'
        "def add(a, b):\n    return 0\n"
    )
    result = grade_sync(ADD, forger)
    assert result["status"] == "failed"
    assert result["passed"] == 0


def test_the_reference_solution_is_nowhere_to_be_found():
    snoop = '''
import os, sys, gc
MARK = "REFERENCE-SOLUTION-" + "MARKER_ID"
found = []
# the grader writes only its own job files; virtualenvs, node_modules and checkouts that
# other programs keep in /tmp are skipped so the walk fits the time limit on any machine
SKIP = {".venv", "venv", "node_modules", ".git", "site-packages", "__pycache__"}
for root in (os.getcwd(), os.environ.get("HOME", "."), "/tmp"):
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP]
        for name in files:
            try:
                with open(os.path.join(folder, name), errors="ignore") as fh:
                    if MARK in fh.read(1_000_000):
                        found.append(os.path.join(folder, name))
            except OSError:
                pass
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for what in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{what}", "rb") as fh:
                    if MARK.encode() in fh.read():
                        found.append(f"/proc/{pid}/{what}")
            except OSError:
                pass
for obj in gc.get_objects():
    if isinstance(obj, str) and MARK in obj and obj is not MARK and "found" not in obj:
        found.append("memory")
print("FOUND" if found else "NOT FOUND", found)
def add(a, b):
    return a + b
'''
    snoop = snoop.replace("MARKER_ID", MARKER_ID)
    result = grade_sync({**ADD, "time_limit_s": 20}, snoop)
    assert "NOT FOUND" in result["output"], result
    assert "FOUND []" in result["output"]
    assert result["status"] == "passed"


def test_opening_a_socket_is_refused():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        code = (
            "import socket\n"
            "def add(a, b):\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    return a + b\n"
        )
        result = grade_sync(ADD, code)
    assert result["status"] == "failed"
    assert "not allowed in the grading sandbox: socket" in result["tests"][0]["message"]
    assert_grader_still_works()


def test_network_namespace_blocks_even_raw_connects():
    """The OS layer alone (no runner, no audit hook): a connect from the grader's sandbox fails,
    and the listening socket never sees it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        port = server.getsockname()[1]
        probe = ("import socket, sys\n"
                 f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
                 "except OSError:\n    sys.exit(7)\nsys.exit(0)\n")
        launch = confined([sys.executable, "-I", "-c", probe])
        try:
            done = subprocess.run(launch.cmd, cwd=launch.workdir, env=launch.env, timeout=30)
        finally:
            shutil.rmtree(launch.workdir, ignore_errors=True)
        with pytest.raises(BlockingIOError):
            server.accept()
    assert done.returncode == 7


@pytest.mark.parametrize("code, event", [
    ("import os\nos.system('true')", "os.system"),
    ("import subprocess\nsubprocess.run(['true'])", "subprocess.Popen"),
    ("import os\nos.fork()", "os.fork"),
    ("open('/tmp/pp-escape.txt', 'w').write('x')", "writing outside the sandbox folder"),
])
def test_processes_and_writes_outside_are_refused(code, event):
    result = grade_sync(ADD, code + "\n# %%\n" + GOOD)
    assert result["status"] == "passed"  # the next cell still runs
    assert event in result["load_errors"][0]["message"]


def test_writing_in_its_own_folder_is_allowed_but_capped():
    code = ("with open('scratch.txt', 'w') as fh:\n"
            "    fh.write('x' * (4 << 20))\n")
    result = grade_sync(ADD, code + "# %%\n" + GOOD)
    assert result["status"] == "passed"
    assert "File too large" in result["load_errors"][0]["message"]


def test_environment_is_stripped(monkeypatch):
    monkeypatch.setenv("MONGODB_URI", "mongodb://secret-host/")
    code = "import os\nprint(sorted(os.environ))\n" + GOOD
    result = grade_sync(ADD, code)
    assert "MONGODB_URI" not in result["output"]
    assert "HOME" in result["output"]


def test_syntax_error_is_reported_and_other_cells_still_load():
    code = "# %% [cell 1]\ndef add(a, b:\n# %% [cell 4]\n" + GOOD
    result = grade_sync(ADD, code)
    assert result["status"] == "passed"
    assert result["load_errors"][0]["cell"] == "cell 1"
    assert "SyntaxError" in result["load_errors"][0]["message"]


def test_suite_form_with_unittest_and_module_alias():
    challenge = {
        "slug": "two-fer", "time_limit_s": 5,
        "tests": {"module_name": "two_fer", "suite": (
            "import unittest\nfrom two_fer import two_fer\n"
            "class TwoFerTest(unittest.TestCase):\n"
            "    def test_no_name(self):\n"
            "        self.assertEqual(two_fer(), 'One for you, one for me.')\n"
            "    def test_name(self):\n"
            "        self.assertEqual(two_fer('Ann'), 'One for Ann, one for me.')\n"
            "def test_plain_function():\n    assert two_fer('Bo').startswith('One for Bo')\n")},
    }
    good = "def two_fer(name='you'):\n    return f'One for {name}, one for me.'\n"
    result = grade_sync(challenge, good)
    assert result["status"] == "passed" and result["total"] == 3
    fixed = "def two_fer(name='you'):\n    return 'One for you, one for me.'\n"
    result = grade_sync(challenge, fixed)
    assert result["status"] == "failed"
    names = {t["name"]: t["status"] for t in result["tests"]}
    assert names == {"TwoFerTest.test_no_name": "pass", "TwoFerTest.test_name": "fail",
                     "test_plain_function": "fail"}


# -- results never quote the hidden tests ----------------------------------------------------------
# Both members see every result and it passes through the pair server: the hidden tests' lines
# (a comment, a constant, a helper) must not come back with it. What a learner is meant to see
# stays: the asserted expression and its values, a message the test raises, the learner's lines.
TEST_MARKER = "HIDDEN-TEST-" + MARKER_ID
HIDDEN_CASES = {
    "slug": "hidden-cases", "time_limit_s": 5,
    "tests": {
        "setup": f"# {TEST_MARKER}-setup\nHINT = '{TEST_MARKER}-setup-constant'\n",
        "cases": [
            {"name": "fails", "code": f"_note = '{TEST_MARKER}-constant'\n"
                                      f"assert add(1, 2) == 3  # {TEST_MARKER}-fails\n"},
            {"name": "errors", "code": f"assert add('x', 2) == 'x2'  # {TEST_MARKER}-errors\n"},
            {"name": "bare", "code": f"assert add(2, 3) in (5,) and True  # {TEST_MARKER}-bare\n"},
            {"name": "chained", "code": f"assert 0 < add(2, 3) < 6  # {TEST_MARKER}-chained\n"},
            {"name": "raised", "code": "raise AssertionError()  # " + TEST_MARKER + "-raised\n"},
            {"name": "helper", "code": f"def check(v):  # {TEST_MARKER}-helper\n"
                                       f"    return add(v, 'y')  # {TEST_MARKER}-call\n"
                                       "check('x')\n"},
            {"name": "told", "code": "assert add(0, 0) == 1, 'add(0, 0) should be 1'\n"},
        ],
    },
}
HIDDEN_SUITE = {
    "slug": "hidden-suite", "time_limit_s": 5,
    "tests": {"module_name": "adder", "suite": (
        "import unittest\nfrom adder import add\n"
        f"SECRET = '{TEST_MARKER}-suite-constant'\n"
        "class AddTest(unittest.TestCase):\n"
        "    def test_equal(self):\n"
        f"        self.assertEqual(add(1, 2), 3)  # {TEST_MARKER}-equal\n"
        "    def test_error(self):\n"
        f"        add('x', 2)  # {TEST_MARKER}-error\n"
        "    def test_sub(self):\n"
        "        for i in range(2):\n"
        "            with self.subTest(i=i):\n"
        f"                self.assertTrue(add(i, 1) == i + 1)  # {TEST_MARKER}-sub\n"
        "def test_plain():\n"
        f"    assert add(2, 2) == 4  # {TEST_MARKER}-plain\n")},
}
WRONG_ADD = ("def add(a, b):\n    if isinstance(a, str):\n"
             "        raise TypeError('numbers only')\n    return a * b\n")


def test_results_never_quote_the_hidden_tests():
    result = grade_sync(HIDDEN_CASES, WRONG_ADD)
    assert TEST_MARKER not in json.dumps(result), result
    by = {t["name"]: t for t in result["tests"]}
    assert {n: t["status"] for n, t in by.items()} == {
        "fails": "fail", "errors": "error", "bare": "fail", "chained": "fail",
        "raised": "fail", "helper": "error", "told": "fail"}
    # what the learners are meant to see is still there
    assert by["fails"]["message"] == "add(1, 2) == 3\n  got:      2\n  expected: 3"
    assert by["bare"]["message"] == "add(2, 3) in (5,) and True\n  was:      False"
    assert by["chained"]["message"] == "0 < add(2, 3) < 6\n  was:      False"
    assert by["raised"]["message"] == "AssertionError"
    assert by["told"]["message"] == "add(0, 0) should be 1"
    for name in ("errors", "helper"):
        message = by[name]["message"]  # the exception and the learner's own line
        assert message.startswith("TypeError: numbers only"), message
        assert "<cell 1>" in message and "raise TypeError('numbers only')" in message
        assert "<test" not in message


def test_suite_results_never_quote_the_hidden_tests():
    result = grade_sync(HIDDEN_SUITE, WRONG_ADD)
    assert TEST_MARKER not in json.dumps(result), result
    by = {t["name"]: t for t in result["tests"]}
    assert {n: t["status"] for n, t in by.items()} == {
        "AddTest.test_equal": "fail", "AddTest.test_error": "error",
        "AddTest.test_sub": "fail", "test_plain": "pass"}
    assert by["AddTest.test_equal"]["message"] == "2 != 3"
    error = by["AddTest.test_error"]["message"]
    assert error.startswith("TypeError: numbers only") and "<cell 1>" in error
    assert by["AddTest.test_sub"]["message"] == "False is not true"


def test_a_hidden_test_that_does_not_compile_is_named_not_quoted():
    broken = {"slug": "broken", "time_limit_s": 5, "tests": {"cases": [
        {"name": "broken", "code": f"assert add(1, 2) == 3 )  # {TEST_MARKER}\n"}]}}
    result = grade_sync(broken, GOOD)
    assert TEST_MARKER not in json.dumps(result), result
    message = result["tests"][0]["message"]
    assert result["tests"][0]["status"] == "error"
    assert message.startswith("SyntaxError: ") and "(in the hidden tests)" in message


def test_a_cell_labelled_like_a_hidden_test_does_not_reveal_it():
    code = "# %% [test errors]\n" + WRONG_ADD
    result = grade_sync(HIDDEN_CASES, code)
    assert TEST_MARKER not in json.dumps(result), result


async def test_async_grade_runs_concurrently_off_the_loop():
    import asyncio

    results = await asyncio.gather(*(grade(ADD, GOOD) for _ in range(4)))
    assert [r["status"] for r in results] == ["passed"] * 4


def test_isolation_layers_are_reported():
    result = grade_sync(ADD, GOOD)
    assert {"rlimits", "audit-hook", "no-network", "pid-namespace",
            "mount-namespace"} <= set(result["isolation"])
