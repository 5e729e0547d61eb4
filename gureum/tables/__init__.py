"""Tables: DynamoDB's API on the store.

The pure core comes first (no I/O): :mod:`~gureum.tables.values` (attribute values,
numbers, key encoding, item sizes) and DynamoDB's expression languages, whose public
face is :mod:`~gureum.tables.expressions`. Their parsers
(:mod:`~gureum.tables.expression_parser`, :mod:`~gureum.tables.condition_parser`,
:mod:`~gureum.tables.update_parser`) build the trees of
:mod:`~gureum.tables.conditions`, :mod:`~gureum.tables.updates`,
:mod:`~gureum.tables.documents` (paths and projections) and
:mod:`~gureum.tables.key_conditions`; :mod:`~gureum.tables.placeholders` holds a
request's ExpressionAttributeNames and ExpressionAttributeValues.
"""
