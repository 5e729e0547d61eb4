"""Observability: function logs (and, later, metrics)."""
