"""Workers: the Worker Manager, sandboxes, and the Runtime API they are served."""
