"""The Front End: the edge HTTP app that serves every AWS-compatible API on one port."""
