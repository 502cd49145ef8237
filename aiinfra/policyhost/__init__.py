"""The policy-pack host: runs the CrossGuard pack in `policies/` over its gRPC analyzer protocol, as the Pulumi
CLI does (`host`), gates one planned stack with it (`gate`) and every stack of an environment together
(`environment`). The estimator (`aiinfra.costs`) knows nothing of the pack; the pack prices with it.
"""

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
"""The environments a stack may name (`ai-infra:environment`); each has `policies/budgets/<env>.json`."""
