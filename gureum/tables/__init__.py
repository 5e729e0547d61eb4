"""Tables: DynamoDB's API on the store.

The pure core comes first: :mod:`~gureum.tables.values` (attribute values, numbers, key
encoding, item sizes) and :mod:`~gureum.tables.reserved_words`.
"""
