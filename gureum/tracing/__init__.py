"""Tracing in the style of X-Ray."""
