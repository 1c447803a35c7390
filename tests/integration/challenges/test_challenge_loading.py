"""Loading into the store: idempotent, versioned, all-or-nothing (real document server)."""

from pathlib import Path

import pytest

from challenges_loader import Options, collect
from challenges_loader.cli import main
from peerplatform.challenge_packs import InvalidInput, load
from peerplatform.cli import main as peerplatform_main

PACKS = Path(__file__).resolve().parents[2] / "fixtures" / "packs"
FIXTURES = PACKS.parent


def load_cli(args) -> int:
    """``peerplatform challenges load ARGS...``'s exit status (loading is the platform's)."""
    with pytest.raises(SystemExit) as exited:
        peerplatform_main(["challenges", "load", *args])
    return exited.value.code


async def all_docs(store):
    return {
        "challenges": await store.challenges.collection.count_documents({}),
        "versions": await store.challenges.versions_collection.count_documents({}),
    }


async def test_load_then_reload_is_idempotent(store):
    collection = collect([str(PACKS / "ok-minimal")])
    first = await load(collection, store)
    assert sorted(first.created) == ["add-two", "double-it"]
    stored = await store.challenges.get("add-two")
    assert stored["version"] == 1 and len(stored["hash"]) == 64
    assert "_id" not in stored and "slots" not in stored
    second = await load(collect([str(PACKS / "ok-minimal")]), store)
    assert (second.created, second.updated) == ([], [])
    assert sorted(second.unchanged) == ["add-two", "double-it"]
    assert await all_docs(store) == {"challenges": 2, "versions": 2}
    assert (await store.challenges.get("add-two"))["hash"] == stored["hash"]


async def test_changed_challenge_gets_a_new_version_and_history_keeps_the_old(store):
    collection = collect([str(PACKS / "ok-minimal")])
    await load(collection, store)
    v1 = await store.challenges.get("add-two")
    await store.challenges.record_seen(["ann", "bob"], v1, "session-1")
    edited = collect([str(PACKS / "ok-minimal")])
    edited.challenges[0]["statement"] = "Write `add(a, b)`; now with more words."
    report = await load(edited, store)
    assert report.updated == [("add-two", 1, 2)] and report.unchanged == ["double-it"]
    current = await store.challenges.get("add-two")
    assert current["version"] == 2 and current["hash"] != v1["hash"]
    old = await store.challenges.get_version("add-two", 1)
    assert old["statement"] == v1["statement"] and old["hash"] == v1["hash"]
    assert [v["version"] for v in await store.challenges.versions("add-two")] == [1, 2]
    (attempt,) = await store.challenges.history_of("ann")
    assert (attempt["slug"], attempt["version"], attempt["hash"]) == ("add-two", 1, v1["hash"])


async def test_invalid_input_anywhere_writes_nothing(store):
    collection = collect([str(PACKS / "ok-minimal"), str(PACKS / "mixed-one-bad")])
    assert collection.errors and collection.challenges  # the good ones were read...
    with pytest.raises(InvalidInput) as caught:
        await load(collection, store)
    assert "nothing was written" in str(caught.value)
    assert await all_docs(store) == {"challenges": 0, "versions": 0}  # ...and none written


async def test_failure_while_writing_is_rolled_back(store, monkeypatch):
    await load(collect([str(PACKS / "ok-minimal")]), store)
    before = await store.challenges.get("add-two")
    edited = collect([str(PACKS / "ok-minimal"), str(PACKS / "ok-folder")])
    edited.challenges[0]["title"] = "Changed title"
    real = store.challenges.collection.replace_one
    calls = []

    async def failing_replace(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:  # the first update of this load: write it, then fail
            await real(*args, **kwargs)
            raise RuntimeError("disk on fire")
        return await real(*args, **kwargs)

    monkeypatch.setattr(store.challenges.collection, "replace_one", failing_replace)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await load(edited, store)
    monkeypatch.undo()
    after = await store.challenges.get("add-two")
    assert after["title"] == before["title"] and after["version"] == 1
    assert await store.challenges.get("shout") is None  # the new ones were removed
    assert await all_docs(store) == {"challenges": 2, "versions": 2}
    # and the store is usable: the same load now succeeds
    report = await load(edited, store)
    assert sorted(report.created) == ["digits-only", "shout"]
    assert report.updated == [("add-two", 1, 2)]


async def test_upsert_contract_for_the_pair_server(store):
    doc = {"slug": "one-off", "title": "One off", "statement": "s", "difficulty": "hard",
           "tags": ["graphs"], "track": "algorithms", "tests": {"cases": [
               {"name": "a", "code": "assert True"}]}, "solution": "x = 1"}
    stored = await store.challenges.upsert(doc)
    assert stored["version"] == 1 and stored["rating"] == 1800
    again = await store.challenges.upsert(doc)
    assert again["version"] == 1
    changed = await store.challenges.upsert({**doc, "title": "One off, again"})
    assert changed["version"] == 2
    with pytest.raises(ValueError, match="needs slug, track and difficulty"):
        await store.challenges.upsert({"slug": "x", "difficulty": "easy"})


async def test_importers_load_too(store):
    collection = collect([str(FIXTURES / "exercism-track"), str(FIXTURES / "humaneval/mini.jsonl")],
                         Options(difficulty="easy"))
    report = await load(collection, store)
    assert sorted(report.created) == ["exercism-leap", "exercism-two-fer", "humaneval-0",
                                      "humaneval-1"]


async def test_indexes_exist_for_every_query_path(store):
    info = await store.challenges.collection.index_information()
    keys = {tuple(k for k, _ in spec["key"]) for spec in info.values()}
    assert {("slots",), ("track", "difficulty", "rating"), ("difficulty", "rating"),
            ("tags", "difficulty")} <= keys
    attempts = await store.challenges.attempts.index_information()
    keys = {tuple(k for k, _ in spec["key"]) for spec in attempts.values()}
    assert {("user", "seen_at"), ("session", "slug"), ("slug", "version")} <= keys


def test_cli_validate_load_and_stats(mongodb_uri, mongodb_database, capsys):
    pack = str(PACKS / "ok-minimal")
    assert main(["validate", pack]) == 0
    assert "2 challenge(s) valid" in capsys.readouterr().out
    args = [pack, "--mongodb-uri", mongodb_uri, "--database", mongodb_database, "--no-progress"]
    assert load_cli(args) == 0
    assert "loaded 2 challenge(s): 2 new" in capsys.readouterr().out
    assert load_cli(args) == 0
    assert "0 new, 0 updated (new version), 2 unchanged" in capsys.readouterr().out
    assert main(["stats", pack]) == 0
    out = capsys.readouterr().out
    assert "challenges: 2" in out and "math 2" in out


def test_cli_reports_errors_and_exit_status(capsys):
    assert main(["validate", str(PACKS / "mixed-one-bad")]) == 1
    err = capsys.readouterr().err
    assert "challenge 'broken-one': field difficulty:" in err
    assert "1 error(s); nothing was written" in err
    assert load_cli([str(PACKS / "ok-minimal"), "--mongodb-uri", ""]) == 2
    assert main(["load", str(PACKS / "ok-minimal")]) == 2   # moved: the loader has no store
    assert "peerplatform challenges load" in capsys.readouterr().err
    assert main(["validate", "x", "--exercism-difficulty-map", "1=easy"]) == 2
    assert main(["frobnicate"]) == 2


def test_cli_verify_catches_a_wrong_reference_solution(tmp_path, capsys):
    text = (PACKS / "ok-minimal" / "pack.yaml").read_text().replace("return a + b", "return a * b")
    (tmp_path / "p.yaml").write_text(text)
    assert main(["verify", str(tmp_path / "p.yaml"), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "add-two: reference solution failed" in captured.err
    assert "1 reference solution(s) passed, 1 failed" in captured.out


def test_module_entry_point_runs(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "challenges_loader", "validate",
                           str(PACKS / "ok-folder")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "2 challenge(s) valid" in done.stdout


async def test_progress_bar_and_summary(store, capsys):
    collection = collect([str(PACKS / "ok-minimal")])
    report = await load(collection, store, progress=True)
    err = capsys.readouterr().err
    assert "loading" in err and "2/2" in err
    assert report.summary() == "2 new, 0 updated (new version), 0 unchanged"


def test_cli_load_with_verify_refuses_a_broken_solution(tmp_path, mongodb_uri, mongodb_database,
                                                        capsys):
    text = (PACKS / "ok-minimal" / "pack.yaml").read_text().replace("return a + b", "return 0")
    (tmp_path / "p.yaml").write_text(text)
    args = [str(tmp_path / "p.yaml"), "--verify", "--no-progress",
            "--mongodb-uri", mongodb_uri, "--database", mongodb_database]
    assert load_cli(args) == 1
    assert "nothing was written" in capsys.readouterr().err
    args[0] = str(PACKS / "ok-minimal")
    assert load_cli(args) == 0
    assert "2 new" in capsys.readouterr().out


async def test_loads_two_thousand_challenges_from_files(store, tmp_path):
    import json

    def challenge(i):
        return {"slug": f"gen-{i}", "title": f"Generated {i}", "statement": "s",
                "difficulty": ("easy", "medium", "hard")[i % 3], "tags": [f"tag-{i % 15}"],
                "track": ("algorithms", "sql", "regex")[i % 3], "source": "t", "licence": "CC0-1.0",
                "tests": {"cases": [{"name": "a", "code": f"assert f() == {i}"}]},
                "solution": f"def f():\n    return {i}\n"}

    for part in range(4):
        chunk = [challenge(i) for i in range(part * 500, part * 500 + 500)]
        pack = {"schema_version": 1, "challenges": chunk}
        (tmp_path / f"part{part}.json").write_text(json.dumps(pack))
    collection = collect([str(tmp_path)])
    assert collection.ok and len(collection.challenges) == 2000
    report = await load(collection, store)
    assert len(report.created) == 2000
    assert await store.challenges.count() == 2000
    picked = await store.challenges.pick(difficulty="hard", track="regex", exclude_users=["a"])
    assert picked["difficulty"] == "hard" and picked["track"] == "regex"
