"""The program that runs *inside* the grading sandbox (stdlib only, no package imports).

It is started as ``python -I runner.py RESULTS_FD`` by :mod:`.sandbox`, reads one JSON job on
stdin, and reports on the file descriptor ``RESULTS_FD`` as JSON lines, so that whatever the
graded code prints (on stdout/stderr, captured separately and capped by the parent) can never be
mistaken for a result. Each line is written as soon as it is known: when the parent has to kill
the process (time, output), the tests already finished still count.

The job (built by :func:`.steps.build_job` from the *stored* challenge, never the notebook)::

    {"format": 1, "module": "submission", "code": "...",      # the driver's code (# %% cells)
     "setup": "...", "cases": [{"name", "code"}],            # hidden tests, case form
     "test_module": "..." | null,                           # hidden tests, module form
     "per_test_timeout_s": 2.0}

Events written: ``{"event": "cell", ...}`` (a cell that raised while loading),
``{"event": "test", "name", "status": "pass"|"fail"|"error", "kind", "message", "duration_ms"}``
and finally ``{"event": "done"}``.

What it guards against, beside the OS limits set by the parent: an audit hook (it cannot be
removed once installed) refuses sockets, new processes, ctypes and writes outside the working
directory. A determined program can still inspect this process's memory to see the hidden
tests: they are hidden from the UI, not a secret from the code under test. The reference
solution is never given to this process.

What a result says never quotes the hidden tests' source: a failed ``assert`` is reported as
its asserted expression and the values it evaluated, an error as the exception and the frames
of the learner's own cells (:func:`describe_exception`). The hidden tests' lines, comments and
other constants stay here; the learners see them only if their own code digs them out.
"""

import ast
import json
import linecache
import os
import signal
import sys
import time
import traceback
import types

CELL_MARK = "# %%"
MAX_MESSAGE = 2000
MAX_REPR = 400
#: File names of the learner's cells (``<label>``): the only frames a result shows.
LEARNER_FILES = set()
#: File names the hidden tests are compiled under: never shown, whatever a cell is labelled.
HIDDEN_FILES = set()


class TestTimeout(BaseException):
    """Raised by the per-test alarm; a BaseException so ``except Exception`` cannot swallow it."""


def emit(fd, **event):
    data = (json.dumps(event, default=repr) + "\n").encode("utf-8", "replace")
    while data:
        written = os.write(fd, data)
        data = data[written:]


def clip(text, limit=MAX_MESSAGE):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 15] + " …[truncated]"


def short_repr(value):
    try:
        text = repr(value)
    except Exception as exc:  # a learner's __repr__ may raise
        text = f"<unrepresentable {type(value).__name__}: {exc!r}>"
    return clip(text, MAX_REPR)


# -- the guard -------------------------------------------------------------------------------

BLOCKED_PREFIXES = ("socket.", "ctypes.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn",
                    "os.fork", "os.forkpty", "os.system", "os.kill", "os.killpg", "pty.",
                    "_posixsubprocess.", "os.setuid", "os.setgid")


def install_guard(workdir):
    """Refuse network, processes, ctypes and writes outside ``workdir`` for the rest of the run.

    Stateless on purpose: there is no flag for the graded code to flip.
    """
    workdir = os.path.realpath(workdir)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def hook(event, args):
        if event.startswith(BLOCKED_PREFIXES):
            raise PermissionError(f"not allowed in the grading sandbox: {event}")
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & write_flags
            )
            if writing and isinstance(path, (str, bytes)):
                real = os.path.realpath(os.fsdecode(path))
                if real != workdir and not real.startswith(workdir + os.sep):
                    raise PermissionError(f"writing outside the sandbox folder: {real}")

    sys.addaudithook(hook)


def apply_limits(limits):
    """Lower this process's resource limits (the parent chooses the values)."""
    import resource

    names = {"cpu": resource.RLIMIT_CPU, "as": resource.RLIMIT_AS,
             "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE,
             "nproc": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE}
    for key, value in limits.items():
        soft, hard = value if isinstance(value, list) else (value, value)
        _, current_hard = resource.getrlimit(names[key])
        if current_hard != resource.RLIM_INFINITY:  # only ever lower a limit
            hard = min(hard, current_hard)
        resource.setrlimit(names[key], (min(soft, hard), hard))


# -- loading the driver's code ---------------------------------------------------------------

def split_cells(code):
    """``[(label, source)]``: the code split at ``# %%`` lines (one cell when there are none)."""
    cells, label, lines = [], "cell 1", []
    count = 0
    for line in code.splitlines(keepends=True):
        if line.startswith(CELL_MARK):
            if lines or count:
                cells.append((label, "".join(lines)))
            count += 1
            rest = line[len(CELL_MARK):].strip()
            label = rest.strip("[]").strip() or f"cell {count}"
            lines = []
        else:
            lines.append(line)
    if lines or not cells:
        cells.append((label, "".join(lines)))
    return cells


def register_source(filename, source):
    """Let tracebacks show the lines of code that exists only in memory."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)


def is_learners(filename):
    return filename in LEARNER_FILES and filename not in HIDDEN_FILES


def describe_exception(exc):
    """One message: ``Type: text`` plus the frames of the learner's own cells (with their
    lines). Frames of the hidden tests are left out: their lines are not the learners' to see
    (a comment or a constant on them would be shown to both members and sent to the pair
    server)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if is_learners(f.filename)]
    if isinstance(exc, SyntaxError) and not is_learners(exc.filename or ""):
        # its text is the offending line: of the hidden tests here, not the learner's
        head = f"{type(exc).__name__}: {exc.msg} (in the hidden tests)"
    else:
        head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if not frames:
        return clip(head)
    where = "".join(traceback.format_list(frames[-5:]))
    return clip(f"{head}\n{where}".rstrip())


#: monotonic time by which the whole run (loading + every test) must be over
DEADLINE = [float("inf")]


def run_with_alarm(seconds, fn, *args):
    """Run ``fn`` with a wall-clock alarm of ``seconds``, or less if the run's budget ends
    sooner (Python-level; C loops are the parent's business: it kills the whole process)."""
    left = DEADLINE[0] - time.monotonic()
    if left <= 0:
        raise TestTimeout("not run: the run's time limit was reached")
    seconds = min(seconds, left)

    def on_alarm(signum, frame):
        raise TestTimeout(f"timed out after {seconds:.3g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_submission(job, fd):
    """Execute the driver's cells in one module namespace; a cell that raises is reported and
    the next cells still run, as in a notebook."""
    name = job.get("module") or "submission"
    module = types.ModuleType(name)
    module.__file__ = os.path.join(os.getcwd(), name + ".py")
    sys.modules[name] = module
    for alias in job.get("module_aliases") or ():
        sys.modules[alias] = module
    timeout = float(job.get("per_test_timeout_s") or 2.0)
    for index, (label, source) in enumerate(split_cells(job.get("code") or "")):
        filename = f"<{label}>"
        LEARNER_FILES.add(filename)
        register_source(filename, source)
        try:
            compiled = compile(source, filename, "exec")
            run_with_alarm(timeout, exec, compiled, module.__dict__)
        except BaseException as exc:  # noqa: B036 - report everything, SystemExit included
            emit(fd, event="cell", index=index, label=label, kind=classify(exc),
                 message=describe_exception(exc))
    return module


# -- hidden tests ----------------------------------------------------------------------------

def classify(exc):
    if isinstance(exc, TestTimeout):
        return "timeout"
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, AssertionError):
        return "assertion"
    return "exception"


class ExplainAsserts(ast.NodeTransformer):
    """``assert a == b`` without a message becomes: evaluate both sides once, and on failure
    say what was expected and what came back (test code only, never the graded code). Any
    other ``assert x`` without a message says its expression and the value it had. So a
    failed assertion is told by what it asserted, never by the test's source line."""

    def __init__(self, source):
        self.source = source
        self.count = 0

    def visit_Assert(self, node):
        test = node.test
        if node.msg is not None:
            return node
        self.count += 1
        text = ast.get_source_segment(self.source, test) or "assertion"
        if not isinstance(test, ast.Compare) or len(test.ops) != 1:
            return self._explain_value(node, text)
        left, right = f"_pp_left_{self.count}", f"_pp_right_{self.count}"
        new = [
            ast.Assign(targets=[ast.Name(left, ast.Store())], value=test.left),
            ast.Assign(targets=[ast.Name(right, ast.Store())], value=test.comparators[0]),
            ast.Assert(
                test=ast.Compare(ast.Name(left, ast.Load()), test.ops,
                                 [ast.Name(right, ast.Load())]),
                msg=ast.Call(ast.Name("_pp_explain", ast.Load()),
                             [ast.Constant(text), ast.Name(left, ast.Load()),
                              ast.Name(right, ast.Load()),
                              ast.Constant(type(test.ops[0]).__name__)],
                             []),
            ),
        ]
        for stmt in new:
            ast.copy_location(stmt, node)
        return new

    def _explain_value(self, node, text):
        value = f"_pp_value_{self.count}"
        new = [
            ast.Assign(targets=[ast.Name(value, ast.Store())], value=node.test),
            ast.Assert(
                test=ast.Name(value, ast.Load()),
                msg=ast.Call(ast.Name("_pp_explain", ast.Load()),
                             [ast.Constant(text), ast.Name(value, ast.Load()),
                              ast.Constant(None), ast.Constant("Value")],
                             []),
            ),
        ]
        for stmt in new:
            ast.copy_location(stmt, node)
        return new


def explain(text, left, right, op):
    if op == "Eq":
        return f"{text}\n  got:      {short_repr(left)}\n  expected: {short_repr(right)}"
    if op == "Value":
        return f"{text}\n  was:      {short_repr(left)}"
    return f"{text}\n  left:  {short_repr(left)}\n  right: {short_repr(right)}"


def compile_test(source, filename):
    """Hidden test code, compiled with :class:`ExplainAsserts`. Its source is not registered
    with ``linecache``: no traceback can quote it."""
    HIDDEN_FILES.add(filename)
    tree = ast.parse(source, filename)
    tree = ast.fix_missing_locations(ExplainAsserts(source).visit(tree))
    return compile(tree, filename, "exec")


def report(fd, name, started, exc=None):
    duration_ms = (time.perf_counter() - started) * 1000
    if exc is None:
        emit(fd, event="test", name=name, status="pass", kind=None, message="",
             duration_ms=duration_ms)
        return
    kind = classify(exc)
    status = "fail" if kind == "assertion" else "error"
    if kind == "assertion" and str(exc):
        message = clip(str(exc))  # the test's own message, or what ExplainAsserts made
    else:
        message = describe_exception(exc)
    emit(fd, event="test", name=name, status=status, kind=kind, message=message,
         duration_ms=duration_ms)


def run_cases(job, module, fd):
    timeout = float(job.get("per_test_timeout_s") or 2.0)
    setup = job.get("setup") or ""
    setup_code = compile_test(setup, "<test setup>") if setup else None
    for case in job.get("cases") or ():
        name = case["name"]
        namespace = dict(module.__dict__)
        namespace["_pp_explain"] = explain
        namespace["__name__"] = "hidden_test"
        started = time.perf_counter()
        try:
            if setup_code is not None:
                run_with_alarm(timeout, exec, setup_code, namespace)
            code = compile_test(case["code"], f"<test {name}>")
            run_with_alarm(timeout, exec, code, namespace)
        except BaseException as exc:  # noqa: B036
            report(fd, name, started, exc)
        else:
            report(fd, name, started)


def run_test_module(job, module, fd):
    """unittest ``TestCase`` methods and top-level ``test_*`` functions, one result each."""
    import unittest  # only here: importing it costs ~20 ms of every grading's start-up

    timeout = float(job.get("per_test_timeout_s") or 2.0)
    source = job.get("test_module") or ""
    namespace = {"__name__": "hidden_tests", "_pp_explain": explain}
    started = time.perf_counter()
    try:
        run_with_alarm(timeout, exec, compile_test(source, "<hidden tests>"), namespace)
    except BaseException as exc:  # noqa: B036
        report(fd, "hidden tests (import)", started, exc)
        return
    loader = unittest.TestLoader()
    for value in list(namespace.values()):
        if isinstance(value, type) and issubclass(value, unittest.TestCase):
            for method in loader.getTestCaseNames(value):
                run_unittest(fd, value, method, timeout)
    for key, value in list(namespace.items()):
        if key.startswith("test_") and isinstance(value, types.FunctionType):
            started = time.perf_counter()
            try:
                run_with_alarm(timeout, value)
            except BaseException as exc:  # noqa: B036
                report(fd, key, started, exc)
            else:
                report(fd, key, started)


def run_unittest(fd, cls, method, timeout):
    import unittest

    class KeptResult(unittest.TestResult):
        """Keeps the exceptions themselves: unittest's own text is a traceback that quotes
        the hidden tests' lines."""

        def __init__(self):
            super().__init__()
            self.raised = []  # (exception, is a failure)

        def addError(self, test, err):
            super().addError(test, err)
            self.raised.append((err[1], False))

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self.raised.append((err[1], True))

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                self.raised.append((err[1], issubclass(err[0], test.failureException)))

    name = f"{cls.__name__}.{method}"
    result = KeptResult()
    started = time.perf_counter()
    try:
        run_with_alarm(timeout, cls(method).run, result)
    except BaseException as exc:  # noqa: B036 - a timeout between test parts
        report(fd, name, started, exc)
        return
    if result.skipped and not result.raised:
        emit(fd, event="test", name=name, status="pass", kind="skipped",
             message=clip(result.skipped[0][1]), duration_ms=(time.perf_counter() - started) * 1000)
        return
    if not result.raised:
        report(fd, name, started)
        return
    errors = [exc for exc, failure in result.raised if not failure]
    if errors:
        exc = errors[0]
        emit(fd, event="test", name=name, status="error", kind=classify(exc),
             message=describe_exception(exc), duration_ms=(time.perf_counter() - started) * 1000)
        return
    exc = result.raised[0][0]
    message = str(exc) or describe_exception(exc)
    emit(fd, event="test", name=name, status="fail", kind="assertion",
         message=clip(message), duration_ms=(time.perf_counter() - started) * 1000)


def main(argv):
    fd = int(argv[1])
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    sys.stdin.close()
    if job.get("format") != 1:
        emit(fd, event="fatal", message=f"unknown job format {job.get('format')!r}")
        return 2
    budget = job.get("budget_s")
    if budget:
        DEADLINE[0] = time.monotonic() + float(budget)
    sys.path.insert(0, os.getcwd())
    # Modules the tests commonly need, imported before the guard so their own set-up runs free.
    import re  # noqa: F401
    import sqlite3  # noqa: F401
    apply_limits(job.get("limits") or {})

    def on_cpu_limit(signum, frame):
        # cannot be caught by the graded code: report and leave at once
        emit(fd, event="limit", kind="timeout", message="the CPU time limit was reached")
        os._exit(124)

    signal.signal(signal.SIGXCPU, on_cpu_limit)
    install_guard(os.getcwd())
    module = load_submission(job, fd)
    if job.get("cases"):
        run_cases(job, module, fd)
    if job.get("test_module"):
        run_test_module(job, module, fd)
    emit(fd, event="done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
