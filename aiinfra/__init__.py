"""Tooling around the ai-infra Pulumi program: hardware and price catalog, offline plans, costs, sizing, preflight."""
