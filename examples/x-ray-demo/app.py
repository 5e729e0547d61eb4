"""The seed's X-Ray demo in Python: a function that scans the ``x-ray-demo`` table (one of
gureum's tables, through DynamoDB's API) and answers its items, as the seed's Node
demo does (``examples/x-ray-demo-node``).

With ``TracingConfig: {Mode: Active}`` alone, the service map shows the client, the
Lambda service and the function, but not the table. Bundle ``aws-xray-sdk`` with the
code (``pip install aws-xray-sdk -t .``; the seed used a layer) and its ``patch_all()``
wraps boto3: each call's trace then holds, under the function, a ``DynamoDB``
subsegment for the Scan (``aws.operation`` Scan, ``aws.table_name`` x-ray-demo) with
its time. boto3 comes with the runtime and finds the server through
``AWS_ENDPOINT_URL``, which gureum sets.
"""

import json

import boto3

try:
    from aws_xray_sdk.core import patch_all

    patch_all()
except ImportError:  # deployed without the SDK: the platform's segments only
    pass


def handler(event, context):
    items = boto3.client("dynamodb").scan(TableName="x-ray-demo")["Items"]
    return {"statusCode": 200, "body": json.dumps(items)}
