"""The seed's X-Ray demo, rebuilt for gureum: a function that reads the ``x-ray-demo``
table and answers its items, as an API would.

With ``TracingConfig: {Mode: Active}`` alone, the service map shows the client, the
Lambda service and the function, but not the table. Bundle ``aws-xray-sdk`` with the
code (``pip install aws-xray-sdk -t .``; the seed used a layer) and its ``patch_all()``
records the SQL calls: the map then shows client -> function -> database, with the
database call's time. The table lives in SQLite here; a PostgreSQL client patched the
same way (``psycopg2``) would show up the same.
"""

import json
import sqlite3

try:
    from aws_xray_sdk.core import patch_all

    patch_all()
except ImportError:  # deployed without the SDK: the platform's segments only
    pass

DATABASE = "/tmp/x-ray-demo.db"


def _table():
    db = sqlite3.connect(DATABASE)
    db.execute('CREATE TABLE IF NOT EXISTS "x-ray-demo" (id TEXT PRIMARY KEY, name TEXT)')
    db.execute(
        "INSERT OR IGNORE INTO \"x-ray-demo\" VALUES ('1', 'cloud'), ('2', 'rain'), ('3', 'sun')"
    )
    db.commit()
    return db


def handler(event, context):
    db = _table()
    items = [{"id": i, "name": n} for i, n in db.execute('SELECT id, name FROM "x-ray-demo"')]
    db.close()
    return {"statusCode": 200, "body": json.dumps(items)}
