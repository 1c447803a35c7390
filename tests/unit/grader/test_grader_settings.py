"""``GraderSettings``: environment defaults, bad values refused with the variable's name; and
how the grader's limits become the learner sandbox's settings of a run."""

from __future__ import annotations

import shutil

import pytest
from learner_sandbox import SandboxSettings
from traitlets import TraitError

from peerplatform_grader.sandbox import (GRADER_CGROUP, Limits, box_settings, cgroup_name,
                                             launch_runner)
from peerplatform_grader.settings import ENV, GraderSettings


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    for var in ("PEERPLATFORM_GRADER_ISOLATION", "PEERPLATFORM_GRADER_USER",
                "PEERPLATFORM_GRADER_CONCURRENCY"):
        monkeypatch.delenv(var, raising=False)
    GraderSettings.clear_instance()
    yield
    GraderSettings.clear_instance()


def test_defaults_without_environment():
    s = GraderSettings()
    assert (s.isolation, s.concurrency) == ("auto", 0)
    assert s.slots >= 1


def test_environment_sets_each_trait(monkeypatch):
    monkeypatch.setenv("PEERPLATFORM_GRADER_ISOLATION", "NONE")
    monkeypatch.setenv("PEERPLATFORM_GRADER_CONCURRENCY", "3")
    s = GraderSettings.instance()
    assert (s.isolation, s.concurrency, s.slots) == ("none", 3, 3)


def test_who_runs_graded_code_is_the_learner_sandbox_s_choice(monkeypatch):
    """No grader user of its own any more: the kernel user of ``c.SandboxSettings`` runs it."""
    monkeypatch.setenv("PEERPLATFORM_GRADER_USER", "root")
    assert "user" not in ENV and not GraderSettings().has_trait("user")
    settings = box_settings(Limits(), GRADER_CGROUP)
    assert settings.user == SandboxSettings.instance().user


@pytest.mark.parametrize("var,value,named", [
    ("PEERPLATFORM_GRADER_ISOLATION", "off", "isolation"),
    ("PEERPLATFORM_GRADER_CONCURRENCY", "many", "PEERPLATFORM_GRADER_CONCURRENCY"),
    ("PEERPLATFORM_GRADER_CONCURRENCY", "-1", "concurrency"),
])
def test_bad_values_are_refused_by_name(monkeypatch, var, value, named):
    monkeypatch.setenv(var, value)
    s = GraderSettings()
    with pytest.raises(TraitError, match=named):
        (s.isolation, s.concurrency)


def test_isolation_none_leaves_rlimits_and_the_audit_hook(monkeypatch):
    monkeypatch.setenv("PEERPLATFORM_GRADER_ISOLATION", "none")
    launch = launch_runner(9, Limits())
    try:
        assert launch.layers == ["rlimits", "audit-hook"]
        assert launch.cmd[-1] == "9"
        assert not any("bwrap" in part or "learner_sandbox" in part for part in launch.cmd)
    finally:
        shutil.rmtree(launch.workdir)


def test_the_grader_s_limits_are_the_sandbox_s_where_they_overlap():
    """File size and open files are the run's; the cgroup's budget (memory, processes, CPU) is
    the session's, the kernel's own, so a grading never rewrites a session's limits."""
    sandbox = SandboxSettings.instance()
    limits = Limits(file_bytes=3 * 1024 * 1024 + 1, open_files=40, memory_bytes=200 << 20)
    s = box_settings(limits, "abcdef123456")
    assert (s.file_size_mb, s.open_files) == (4, 40)
    assert (s.memory_mb, s.pids, s.cpus) == (sandbox.memory_mb, sandbox.pids, sandbox.cpus)
    assert s.tmp_mb <= 4  # small: the audit hook refuses writes there anyway
    assert box_settings(limits, GRADER_CGROUP).cpus >= 1


def test_the_cgroup_is_the_session_s_in_a_pair_server(monkeypatch):
    monkeypatch.delenv("PEERPLATFORM_SESSION_ID", raising=False)
    assert cgroup_name() == GRADER_CGROUP
    monkeypatch.setenv("PEERPLATFORM_SESSION_ID", "abcdef123456")
    assert cgroup_name() == "abcdef123456"
