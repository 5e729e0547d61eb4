"""gureum: a self-hosted serverless compute platform that speaks AWS Lambda's protocols."""

__version__ = "0.1.0"
