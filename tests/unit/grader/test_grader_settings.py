"""``GraderSettings``: environment defaults, bad values refused with the variable's name."""

from __future__ import annotations

import pytest
from traitlets import TraitError

from peerplatform_ext.grader.settings import GraderSettings


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
    assert (s.isolation, s.user, s.concurrency) == ("auto", "", 0)
    assert s.slots >= 1


def test_environment_sets_each_trait(monkeypatch):
    monkeypatch.setenv("PEERPLATFORM_GRADER_ISOLATION", "NONE")
    monkeypatch.setenv("PEERPLATFORM_GRADER_USER", "grader")
    monkeypatch.setenv("PEERPLATFORM_GRADER_CONCURRENCY", "3")
    s = GraderSettings.instance()
    assert (s.isolation, s.user, s.concurrency, s.slots) == ("none", "grader", 3, 3)


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
    from peerplatform_ext.grader.sandbox import isolation

    monkeypatch.setenv("PEERPLATFORM_GRADER_ISOLATION", "none")
    assert isolation() == ((), ("rlimits", "audit-hook"))
