"""The Exercism-track and HumanEval importers, on small fixtures in their layouts."""

import json
from pathlib import Path

import pytest

from challenges_loader import Options, collect
from challenges_loader.sources.exercism import DEFAULT_DIFFICULTY_MAP, parse_difficulty_map

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TRACK = FIXTURES / "exercism-track"
MINI = FIXTURES / "humaneval" / "mini.jsonl"


def test_exercism_track_is_detected_and_mapped():
    result = collect([str(TRACK)])
    assert result.ok, result.errors
    by_slug = {c["slug"]: c for c in result.challenges}
    assert set(by_slug) == {"exercism-two-fer", "exercism-leap"}  # deprecated one skipped
    two_fer = by_slug["exercism-two-fer"]
    assert two_fer["title"] == "Two Fer"
    assert two_fer["difficulty"] == "easy" and two_fer["rating"] == 1000
    assert two_fer["tags"] == ["string-formatting", "basics", "function-arguments"]
    assert two_fer["statement"].startswith("# Introduction\n\nSharing is caring.")
    assert "# Instructions" in two_fer["statement"]
    assert two_fer["starter_code"].startswith("def two_fer(name):")
    assert two_fer["tests"]["module_name"] == "two_fer"
    assert "class TwoFerTest" in two_fer["tests"]["suite"]
    assert 'return f"One for {name}' in two_fer["solution"]
    assert two_fer["licence"] == "MIT" and "python track" in two_fer["source"]
    leap = by_slug["exercism-leap"]
    assert leap["difficulty"] == "medium" and leap["tags"] == ["boolean-logic"]


def test_exercism_difficulty_mapping_can_be_overridden():
    mapping = parse_difficulty_map("1-4=medium,5-10=hard")
    result = collect([f"exercism:{TRACK}"], Options(exercism_map=mapping))
    by_slug = {c["slug"]: c["difficulty"] for c in result.challenges}
    assert by_slug == {"exercism-two-fer": "medium", "exercism-leap": "hard"}


@pytest.mark.parametrize("text, message", [
    ("1-3=easy", "unmapped"), ("1-10=trivial", "bad difficulty mapping"), ("x", "bad")])
def test_bad_difficulty_mapping_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_difficulty_map(text)


def test_default_mapping_covers_one_to_ten():
    assert sorted(DEFAULT_DIFFICULTY_MAP) == list(range(1, 11))


def test_exercism_exercise_with_missing_files_names_it(tmp_path):
    track = tmp_path / "track"
    (track / "exercises" / "practice" / "ghost").mkdir(parents=True)
    (track / "config.json").write_text(json.dumps({"slug": "python", "exercises": {"practice": [
        {"slug": "ghost", "name": "Ghost", "difficulty": 2}]}}))
    (error,) = collect([str(track)]).errors
    assert error.challenge == "'exercism-ghost'" and "cannot import" in error.message


def test_not_an_exercism_track(tmp_path):
    (error,) = collect([f"exercism:{tmp_path}"]).errors
    assert "not an Exercism track" in error.message


def test_humaneval_needs_an_explicit_difficulty():
    (error,) = collect([str(MINI)]).errors
    assert "--difficulty" in error.message


def test_humaneval_fixture_is_mapped():
    result = collect([str(MINI)], Options(difficulty="hard", tags=("humaneval", "warm-up")))
    assert result.ok, result.errors
    first, second = result.challenges
    assert first["slug"] == "humaneval-0" and first["difficulty"] == "hard"
    assert first["tags"] == ["humaneval", "warm-up"]
    assert first["examples"] == [{"input": "count_vowels('Banana')", "output": "3"}]
    assert first["starter_code"].startswith("def count_vowels")
    assert first["solution"].endswith("for ch in text.lower())\n")
    (case,) = first["tests"]["cases"]
    assert case["code"].rstrip().endswith("check(count_vowels)")
    assert second["title"].startswith("Second largest")


def test_humaneval_bad_record_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(MINI.read_text() + '{"task_id": "X/9"}\n')
    result = collect([str(path)], Options(difficulty="easy"))
    (error,) = result.errors
    assert error.file == f"{path}:3" and "not a HumanEval record" in error.message


def test_humaneval_bundled_file_is_readable():
    result = collect(["humaneval"], Options(difficulty="medium"))
    assert result.ok, result.errors[:3]
    assert len(result.challenges) == 164
    assert len({c["slug"] for c in result.challenges}) == 164
