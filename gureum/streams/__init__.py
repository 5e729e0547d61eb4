"""Streams with Kinesis's API: shards over the 128-bit hash key space, records in
sequence per shard, resharding, on the store (SQLite or PostgreSQL)."""
