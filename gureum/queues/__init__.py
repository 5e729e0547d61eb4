"""Built-in queues: durable SQS-compatible queues on the store."""
