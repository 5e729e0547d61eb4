"""TLS on the edge: gureum's local certificate authority, kept in the store so that every
node on one database shares it, the server certificate each node issues itself from it,
and the HTTPS listener that serves the edge app with that certificate (``docs/tls.md``).
"""
