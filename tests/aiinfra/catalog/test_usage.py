"""The usage block: documented defaults, exact errors."""

from __future__ import annotations

import pytest

from aiinfra.costs import USAGE_DEFAULTS, Usage, UsageError, parse_usage


def test_defaults_are_the_documented_table() -> None:
    usage = parse_usage(None)
    assert usage == Usage()
    assert usage.to_json()["efsGb"] == USAGE_DEFAULTS["efsGb"][0] == 500


def test_values_override_defaults() -> None:
    usage = parse_usage({"bucketGb": 5000})
    assert (usage.bucket_gb, usage.efs_gb) == (5000, 500)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(UsageError) as err:
        parse_usage({"bucketGB": 10, "natGbPerMonth": -1, "negotiatedPrices": {"p5e.48xlarge": "cheap"}})
    assert err.value.problems == [
        "usage.bucketGB: unknown key; did you mean 'bucketGb'?",
        "usage.natGbPerMonth: -1 is not allowed; expected a number >= 0 (GB/month)",
        "usage.negotiatedPrices: negotiated prices are not set in the stack file; they moved to "
        "aiinfra/catalog/data/negotiated_prices.json (owned by finance, each with its contract reference and "
        "expiry date). Remove this key",
    ]


def test_stack_config_usage_block_is_validated_with_the_spec() -> None:
    from components.errors import ConfigError
    from components.spec import parse_spec

    values = {"aws:region": "us-east-1", "environment": "dev", "tags": {"team": "a", "cost-center": "b"},
              "usage": {"trainingRunsPerMonth": "many"}}
    with pytest.raises(ConfigError) as err:
        parse_spec(values, "ai-infra", "t")
    assert err.value.problems == ["usage.trainingRunsPerMonth: 'many' is not allowed; expected a number >= 0 "
                                  "(runs/month)"]
