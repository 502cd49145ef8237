"""The ai-infra Pulumi program: load this stack's spec, build the platform, export what operators need."""

import pulumi

from components.errors import ConfigError
from components.platform import build
from components.spec import load_spec

try:
    spec = load_spec()
except ConfigError as err:
    # A user mistake: the CLI shows this message without a traceback.
    raise pulumi.RunError(err.render()) from None

for key, value in build(spec).items():
    pulumi.export(key, value)
