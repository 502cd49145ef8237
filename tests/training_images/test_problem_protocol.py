"""One structured-problem protocol for every problem-list error: the tooling's (`aiinfra/problems.py`: stack
config, usage, sizing) and the images' (`training_images/common/trainkit/problems.py`: trainer config).

The images do not ship `aiinfra` and `aiinfra` may not import the images (ARCHITECTURE.md), so each side
carries the protocol; these tests hold the two to the same fields, defaults, rendering, JSON form and parsing,
on the same inputs, and check that every problem-list error derives from its side's base.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Any

import pytest
from trainer import config as torch_config
from trainkit import problems as images
from trainkit.config import ConfigError as TrainerConfigError

from aiinfra import problems as tooling
from aiinfra.catalog.usage import UsageError
from aiinfra.sizing.errors import SizingError
from components.errors import ConfigError as StackConfigError

SIDES = (tooling, images)
SAMPLES: list[dict[str, Any]] = [
    {"path": "max_steps", "message": "0 must be >= 1", "value": 0, "allowed": ">= 1"},
    {"path": "model", "message": "'gpt' is not one of classifier, lm", "value": "gpt", "allowed": ("classifier", "lm")},
    {"path": "", "message": "no path, no value"},
    {"path": "lr", "message": "nan must be > 0", "value": math.nan},
    {"path": "hidden", "message": "odd", "value": (8, {"a": math.inf}, None, True, object)},
    {"path": "data_uri", "message": "required", "value": None},
]
LINES = ["gpuGroups[0].maxSize: expected an integer, got 'lots'", "a message: with a colon but a spaced head",
         "no colon at all", "--rps: must be > 0", ": empty path"]


def test_the_public_names_are_the_same() -> None:
    assert set(images.__all__) == {"UNSET", "Problem", "ProblemsError", "problems_of"}
    for name in images.__all__:
        assert hasattr(tooling, name), name


def test_problem_fields_and_defaults_are_the_same() -> None:
    def shape(module: Any) -> list[tuple[str, str, str]]:
        return [(f.name, str(f.type), "required" if f.default is dataclasses.MISSING else repr(f.default))
                for f in dataclasses.fields(module.Problem)]

    assert shape(images) == shape(tooling) == [("path", "str", "required"), ("message", "str", "required"),
                                               ("value", "Any", "UNSET"), ("allowed", "str | tuple[str, ...]", "()")]
    assert [bool(m.UNSET) for m in SIDES] == [False, False]
    assert [repr(m.UNSET) for m in SIDES] == ["UNSET", "UNSET"]
    assert [m.Problem.__dataclass_params__.frozen for m in SIDES] == [True, True]  # type: ignore[attr-defined]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s["path"] or "no-path")
def test_a_problem_renders_and_serialises_alike(sample: dict[str, Any]) -> None:
    a, b = tooling.Problem(**sample), images.Problem(**sample)
    assert a.render() == b.render()
    assert a.to_json() == b.to_json()


@pytest.mark.parametrize("line", LINES)
def test_a_rendered_line_parses_alike(line: str) -> None:
    a, b = tooling.Problem.parse(line), images.Problem.parse(line)
    assert (a.path, a.message) == (b.path, b.message)


def test_the_error_bases_carry_the_same_structure() -> None:
    for title in (None, "invalid input"):
        errors = []
        for side in SIDES:
            cls = type("E", (side.ProblemsError,), {"title": title})
            errors.append(cls([side.Problem(**SAMPLES[0]), LINES[0]]))
        a, b = errors
        assert a.problems == b.problems and a.to_json() == b.to_json() and str(a) == str(b)
        assert [tooling.problems_of(a), images.problems_of(b)] != [[], []]
        assert [p.to_json() for p in tooling.problems_of(a)] == [p.to_json() for p in images.problems_of(b)]
    assert inspect.signature(tooling.ProblemsError.__init__).parameters.keys() == \
        inspect.signature(images.ProblemsError.__init__).parameters.keys()


@pytest.mark.parametrize(("error", "base"), [(StackConfigError, tooling.ProblemsError),
                                             (UsageError, tooling.ProblemsError),
                                             (SizingError, tooling.ProblemsError),
                                             (TrainerConfigError, images.ProblemsError)],
                         ids=["stack config", "usage", "sizing", "trainer config"])
def test_every_problem_list_error_derives_from_its_sides_base(error: type, base: type) -> None:
    assert issubclass(error, base)


def test_a_trainer_config_error_carries_structured_problems() -> None:
    with pytest.raises(TrainerConfigError) as err:
        torch_config.load(["--model", "gpt", "--max-steps", "0"], {})
    by_path = {p.path: p for p in err.value.items}
    assert by_path["model"].to_json() == {"path": "model", "message": "'gpt' is not one of classifier, lm",
                                          "value": "gpt", "allowed": ["classifier", "lm"]}
    assert by_path["max_steps"].to_json() == {"path": "max_steps", "message": "0 must be >= 1", "value": 0,
                                              "allowed": ">= 1"}
    assert by_path["data_uri"].value == ""
    assert str(err.value).startswith("invalid trainer config:\n  model: 'gpt' is not one of classifier, lm\n")


def test_a_bad_value_in_the_config_file_is_named_with_its_key(tmp_path: Any) -> None:
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text('{"max_stepz": 3, "lr": "fast"}')
    with pytest.raises(TrainerConfigError) as err:
        torch_config.load(["--config", str(cfg_file)], {})
    items = {p.path: p for p in err.value.items}
    assert items["config"].value == "max_stepz" and "max_steps" in items["config"].allowed
    assert items["lr"].to_json() == {"path": "lr", "message": "'fast' is not a valid float", "value": "fast",
                                     "allowed": "float"}
