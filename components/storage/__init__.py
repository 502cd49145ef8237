"""Shared file systems and object stores per cloud."""
