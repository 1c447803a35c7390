"""Schema validation: one test per kind of error, each naming file, challenge and field."""

import copy
import json
from pathlib import Path

import yaml

from challenges_loader import SCHEMA_VERSION, Options, collect
from challenges_loader.schema import schema

PACKS = Path(__file__).resolve().parents[2] / "fixtures" / "packs"

GOOD = {
    "slug": "add-two", "title": "Add", "statement": "Add them.", "difficulty": "easy",
    "tags": ["math"], "track": "algorithms",
    "tests": {"cases": [{"name": "one", "code": "assert add(1, 1) == 2"}]},
    "solution": "def add(a, b):\n    return a + b\n", "source": "tests", "licence": "CC0-1.0",
}


def write_pack(tmp_path, *challenges, name="pack.yaml", **top):
    data = {"schema_version": SCHEMA_VERSION, "challenges": list(challenges), **top}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def only_error(tmp_path, challenge):
    path = write_pack(tmp_path, challenge)
    result = collect([str(path)])
    assert not result.challenges
    assert len(result.errors) >= 1
    return result.errors[0], path


def changed(**fields):
    c = copy.deepcopy(GOOD)
    for key, value in fields.items():
        if value is ...:
            c.pop(key)
        else:
            c[key] = value
    return c


def test_good_challenge_is_valid_and_gets_defaults(tmp_path):
    result = collect([str(write_pack(tmp_path, GOOD))])
    assert result.ok, result.errors
    (c,) = result.challenges
    assert c["starter_code"] == "" and c["examples"] == [] and c["time_limit_s"] == 10
    assert c["rating"] == 1200  # from the difficulty


def test_missing_required_field(tmp_path):
    error, path = only_error(tmp_path, changed(title=...))
    assert (error.file, error.challenge, error.field) == (str(path), "'add-two'", "title")
    assert "required" in error.message
    assert str(error).startswith(f"{path}: challenge 'add-two': field title:")


def test_wrong_type(tmp_path):
    error, _ = only_error(tmp_path, changed(tags="math"))
    assert error.field == "tags" and "not of type 'array'" in error.message


def test_value_not_in_enum(tmp_path):
    error, _ = only_error(tmp_path, changed(difficulty="extreme"))
    assert error.field == "difficulty" and "'extreme' is not one of" in error.message


def test_pattern_mismatch(tmp_path):
    error, _ = only_error(tmp_path, changed(slug="Add Two!"))
    assert error.field == "slug" and "does not match" in error.message


def test_unknown_field(tmp_path):
    error, _ = only_error(tmp_path, changed(answer="42"))
    assert error.field == "answer" and "unknown field" in error.message


def test_out_of_range_number(tmp_path):
    error, _ = only_error(tmp_path, changed(time_limit_s=600))
    assert error.field == "time_limit_s" and "maximum" in error.message


def test_duplicate_tags(tmp_path):
    error, _ = only_error(tmp_path, changed(tags=["math", "math"]))
    assert error.field == "tags" and "non-unique" in error.message


def test_nested_field_path(tmp_path):
    error, _ = only_error(tmp_path, changed(tests={"cases": [{"name": "bad name!", "code": "x"}]}))
    assert error.field == "tests.cases[0].name"


def test_tests_need_cases_or_suite():
    result = collect([str(PACKS / "missing-tests")])
    (error,) = result.errors
    assert error.challenge == "'no-tests'" and error.field == "tests"
    assert "'cases'" in error.message and "'suite'" in error.message


def test_python_syntax_error_in_solution(tmp_path):
    error, _ = only_error(tmp_path, changed(solution="def add(a, b)\n    return a\n"))
    assert error.field == "solution" and "syntax error (line 1)" in error.message


def test_python_syntax_error_in_a_test_case(tmp_path):
    bad = changed(tests={"cases": [{"name": "one", "code": "assert add(1,"}]})
    error, _ = only_error(tmp_path, bad)
    assert error.field == "tests.cases[0].code"


def test_duplicate_case_names(tmp_path):
    case = {"name": "one", "code": "assert True"}
    error, _ = only_error(tmp_path, changed(tests={"cases": [case, case]}))
    assert error.field == "tests.cases[1].name" and "duplicate test name" in error.message


def test_duplicate_slug_across_files(tmp_path):
    first = write_pack(tmp_path, GOOD, name="a.yaml")
    second = write_pack(tmp_path, GOOD, name="b.yaml")
    result = collect([str(first), str(second)])
    (error,) = result.errors
    assert error.file == str(second) and error.field == "slug"
    assert f"also defined in {first}" in error.message


def test_challenge_not_a_mapping(tmp_path):
    result = collect([str(write_pack(tmp_path, "just a string"))])
    (error,) = result.errors
    assert error.field == "challenges[0]" and "is not of type 'object'" in error.message


def test_schema_too_old_is_refused_with_a_reason():
    result = collect([str(PACKS / "bad-schema-v0")])
    (error,) = result.errors
    assert error.field == "schema_version" and "too old" in error.message
    assert "cannot upgrade version 0" in error.message


def test_schema_too_new_is_refused():
    result = collect([str(PACKS / "bad-schema-v2")])
    (error,) = result.errors
    assert "newer than this loader reads" in error.message
    assert "upgrade peerplatform" in error.message


def test_missing_schema_version(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"challenges": [GOOD]}))
    (error,) = collect([str(path)]).errors
    assert error.field == "schema_version" and "missing" in error.message


def test_schema_version_not_an_integer(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"schema_version": "1", "challenges": [GOOD]}))
    (error,) = collect([str(path)]).errors
    assert "must be an integer" in error.message


def test_unknown_key_at_file_level(tmp_path):
    path = write_pack(tmp_path, GOOD, extra=1)
    (error,) = collect([str(path)]).errors
    assert error.field == "extra" and error.challenge is None


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("schema_version: 1\nchallenges:\n  - slug: [unclosed\n")
    (error,) = collect([str(path)]).errors
    assert error.file == str(path) and "invalid YAML at line" in error.message


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"schema_version": 1,\n "challenges": [}\n')
    (error,) = collect([str(path)]).errors
    assert "invalid JSON at line 2" in error.message


def test_top_level_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    (error,) = collect([str(path)]).errors
    assert "expected a mapping" in error.message


def test_missing_path_and_empty_folder(tmp_path):
    assert "no such file" in collect([str(tmp_path / "nope")]).errors[0].message
    (tmp_path / "empty").mkdir()
    assert "no .yaml" in collect([str(tmp_path / "empty")]).errors[0].message


def test_folder_pack_reads_yaml_and_json_recursively_with_pack_defaults():
    result = collect([str(PACKS / "ok-folder")])
    assert result.ok, result.errors
    by_slug = {c["slug"]: c for c in result.challenges}
    assert set(by_slug) == {"shout", "digits-only"}
    assert by_slug["digits-only"]["track"] == "regex"  # inherited from the pack defaults


def test_every_error_of_a_run_is_reported_not_just_the_first():
    result = collect([str(PACKS / "mixed-one-bad"), str(PACKS / "bad-schema-v0")])
    assert len(result.errors) == 2
    assert {e.challenge for e in result.errors} == {"'broken-one'", None}


def test_schema_file_is_a_valid_json_schema_document():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    assert json.loads((Path(__file__).resolve().parents[3] / "challenges_loader" / "schema"
                       / "challenge.v1.json").read_text())["$defs"]["challenge"]


def test_no_source_is_an_error():
    assert "no source" in collect([], Options()).errors[0].message
