"""Event-driven invocation: asynchronous invoke (and, later, event source mappings)."""
