"""Stack and project YAML: strict (duplicates, non-finite numbers) and bounded (size, aliases, depth)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiinfra.offline.yamlfile import MAX_BYTES, YamlFileError, load_file, loads


def _problem(text: str, where: str = "f.yaml") -> str:
    with pytest.raises(YamlFileError) as info:
        loads(text, where)
    return str(info.value)


def test_ordinary_yaml_with_anchors_and_merge_keys_loads() -> None:
    doc = loads("base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\nlist: [*b, *b]\n", "f.yaml")
    assert doc["x"] == {"a": 1, "b": 3}
    assert doc["list"] == [{"a": 1, "b": 2}] * 2
    assert loads("", "f.yaml") is None


def test_a_duplicate_key_names_both_lines() -> None:
    assert _problem("config:\n  a: 1\n  b: 2\n  a: 3\n") == (
        "f.yaml: not valid YAML: found duplicate key 'a' (first set on line 2); each key may appear once "
        "(line 4, column 3)")


def test_non_finite_numbers_are_named_by_their_key_path() -> None:
    assert _problem("a:\n  b: [1, .nan]\n  c: -.inf\n", "--set x") == (
        "a.b[1]: nan is not a finite number (.nan and .inf are not allowed; in --set x)\n"
        "a.c: -inf is not a finite number (.nan and .inf are not allowed; in --set x)")


def test_alias_expansion_is_bounded_without_expanding_it() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    assert "expands to more than 100,000 values" in _problem(laughs)
    assert "expands to more than" in _problem("a: &a [*a]\n")
    assert "nested too deeply" in _problem("[" * 3000 + "]" * 3000)


def test_unsafe_tags_and_control_characters_are_yaml_errors() -> None:
    assert "could not determine a constructor" in _problem("!!python/object/apply:os.system [id]")
    assert "special characters are not allowed" in _problem("\x1f")


def test_files_must_be_small_regular_utf8(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("#" * (MAX_BYTES + 1))
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"a: \xff\n")
    for path, expected in ((big, f"a file may hold at most {MAX_BYTES:,}"), (binary, "not UTF-8 text (byte 3)"),
                           (tmp_path, "not a regular file"), (tmp_path / "nope", "no such file")):
        with pytest.raises(YamlFileError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            load_file(path, str(path))
