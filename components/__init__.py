"""Pulumi components of the ai-infra platform; `spec` parses config, `platform` composes the rest."""
