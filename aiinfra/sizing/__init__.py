"""Capacity sizing: from a training or serving goal to the cheapest configuration that meets it.

Pure functions over the catalog (hardware facts, prices) and the documented assumptions in
`catalog/data/sizing_assumptions.json`; no Pulumi, no cloud calls. `aiinfra size` prints them.
"""

from aiinfra.sizing.assumptions import Assumption, Assumptions, default_assumptions
from aiinfra.sizing.errors import SizingError
from aiinfra.sizing.formulas import ModelShape, Optimizer, Quantization, Sharding
from aiinfra.sizing.serving import ServingCandidate, ServingGoal, ServingPlan, plan_serving
from aiinfra.sizing.stack_config import stack_config, stack_config_yaml
from aiinfra.sizing.training import Candidate, TrainingGoal, TrainingPlan, plan_training

__all__ = [
    "Assumption",
    "Assumptions",
    "Candidate",
    "ModelShape",
    "Optimizer",
    "Quantization",
    "ServingCandidate",
    "ServingGoal",
    "ServingPlan",
    "Sharding",
    "SizingError",
    "TrainingGoal",
    "TrainingPlan",
    "default_assumptions",
    "plan_serving",
    "plan_training",
    "stack_config",
    "stack_config_yaml",
]
