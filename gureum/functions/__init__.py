"""Functions: configuration rules, the registry, and the code store."""
