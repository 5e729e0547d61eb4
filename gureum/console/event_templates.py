"""The test event templates the Lambda console offers, as the events those sources send.

Pure data: each template is the event a function receives from that source (the shapes
of ``gureum/gateway/http_events.py``, the pollers' batches, S3's and SNS's
notifications, EventBridge's scheduled event), with AWS's sample values.
"""

from __future__ import annotations

import copy
from typing import Any

_ACCOUNT = "123456789012"
_REGION = "us-east-1"

_API_V1: dict[str, Any] = {
    "resource": "/{proxy+}",
    "path": "/path/to/resource",
    "httpMethod": "POST",
    "isBase64Encoded": False,
    "queryStringParameters": {"foo": "bar"},
    "multiValueQueryStringParameters": {"foo": ["bar"]},
    "pathParameters": {"proxy": "/path/to/resource"},
    "stageVariables": {"baz": "qux"},
    "headers": {"Accept": "*/*", "Content-Type": "application/json", "Host": "example.com"},
    "multiValueHeaders": {"Accept": ["*/*"], "Host": ["example.com"]},
    "requestContext": {
        "accountId": _ACCOUNT,
        "resourceId": "123456",
        "stage": "prod",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "requestTime": "09/Apr/2015:12:34:56 +0000",
        "requestTimeEpoch": 1428582896000,
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "Custom User Agent String"},
        "path": "/prod/path/to/resource",
        "resourcePath": "/{proxy+}",
        "httpMethod": "POST",
        "apiId": "1234567890",
        "protocol": "HTTP/1.1",
    },
    "body": '{"test": "body"}',
}

_API_V2: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/my/path",
    "rawQueryString": "parameter1=value1&parameter2=value2",
    "cookies": ["cookie1", "cookie2"],
    "headers": {"header1": "value1", "header2": "value1,value2"},
    "queryStringParameters": {"parameter1": "value1", "parameter2": "value2"},
    "requestContext": {
        "accountId": _ACCOUNT,
        "apiId": "api-id",
        "domainName": "id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "id",
        "http": {
            "method": "POST",
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "agent",
        },
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    },
    "body": "Hello from Lambda",
    "pathParameters": {"parameter1": "value1"},
    "isBase64Encoded": False,
    "stageVariables": {"stageVariable1": "value1"},
}

_SQS: dict[str, Any] = {
    "Records": [
        {
            "messageId": "19dd0b57-b21e-4ac1-bd88-01bbb068cb78",
            "receiptHandle": "MessageReceiptHandle",
            "body": "Hello from SQS!",
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1523232000000",
                "SenderId": _ACCOUNT,
                "ApproximateFirstReceiveTimestamp": "1523232000001",
            },
            "messageAttributes": {},
            "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:MyQueue",
            "awsRegion": _REGION,
        }
    ]
}

_KINESIS: dict[str, Any] = {
    "Records": [
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "1",
                "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
                "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
                "approximateArrivalTimestamp": 1545084650.987,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": "shardId-000000000006:"
            "49590338271490256608559692538361571095921575989136588898",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::{_ACCOUNT}:role/lambda-role",
            "awsRegion": _REGION,
            "eventSourceARN": f"arn:aws:kinesis:{_REGION}:{_ACCOUNT}:stream/lambda-stream",
        }
    ]
}

_DYNAMODB: dict[str, Any] = {
    "Records": [
        {
            "eventID": "c4ca4238a0b923820dcc509a6f75849b",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": _REGION,
            "dynamodb": {
                "Keys": {"Id": {"N": "101"}},
                "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                "ApproximateCreationDateTime": 1428537600,
                "SequenceNumber": "4421584500000000017450439091",
                "SizeBytes": 26,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "eventSourceARN": f"arn:aws:dynamodb:{_REGION}:{_ACCOUNT}:table/ExampleTableWithStream"
            "/stream/2015-06-27T00:48:05.899",
        }
    ]
}

_S3_PUT: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.0",
            "eventSource": "aws:s3",
            "awsRegion": _REGION,
            "eventTime": "1970-01-01T00:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "EXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {
                "x-amz-request-id": "EXAMPLE123456789",
                "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "testConfigRule",
                "bucket": {
                    "name": "example-bucket",
                    "ownerIdentity": {"principalId": "EXAMPLE"},
                    "arn": "arn:aws:s3:::example-bucket",
                },
                "object": {
                    "key": "test/key",
                    "size": 1024,
                    "eTag": "0123456789abcdef0123456789abcdef",
                    "sequencer": "0A1B2C3D4E5F678901",
                },
            },
        }
    ]
}

_SNS: dict[str, Any] = {
    "Records": [
        {
            "EventVersion": "1.0",
            "EventSubscriptionArn": f"arn:aws:sns:{_REGION}:{_ACCOUNT}:sns-lambda:21be56ed",
            "EventSource": "aws:sns",
            "Sns": {
                "SignatureVersion": "1",
                "Timestamp": "2019-01-02T12:45:07.000Z",
                "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem",
                "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "Message": "Hello from SNS!",
                "MessageAttributes": {
                    "Test": {"Type": "String", "Value": "TestString"},
                },
                "Type": "Notification",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "TopicArn": f"arn:aws:sns:{_REGION}:{_ACCOUNT}:sns-lambda",
                "Subject": "TestInvoke",
            },
        }
    ]
}

_SCHEDULED: dict[str, Any] = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": _ACCOUNT,
    "time": "2015-10-08T16:53:06Z",
    "region": _REGION,
    "resources": [f"arn:aws:events:{_REGION}:{_ACCOUNT}:rule/my-scheduled-rule"],
    "detail": {},
}

#: template name -> (what the console calls it, the event)
TEMPLATES: dict[str, tuple[str, dict[str, Any]]] = {
    "hello-world": ("Hello World", {"key1": "value1", "key2": "value2", "key3": "value3"}),
    "apigateway-aws-proxy": ("API Gateway AWS Proxy (REST API, payload 1.0)", _API_V1),
    "apigateway-http-api-proxy": ("API Gateway HTTP API (payload 2.0)", _API_V2),
    "sqs-receive-message": ("SQS", _SQS),
    "kinesis-get-records": ("Kinesis", _KINESIS),
    "dynamodb-update": ("DynamoDB Stream", _DYNAMODB),
    "s3-put": ("S3 Put", _S3_PUT),
    "sns-notification": ("SNS Topic Notification", _SNS),
    "cloudwatch-scheduled-event": ("CloudWatch Scheduled Event (EventBridge)", _SCHEDULED),
}


def template(name: str) -> dict[str, Any]:
    """A fresh copy of template ``name`` (KeyError if there is none)."""
    return copy.deepcopy(TEMPLATES[name][1])


def listing() -> list[dict[str, str]]:
    """The templates as the console's picker lists them."""
    return [{"id": key, "title": title} for key, (title, _) in TEMPLATES.items()]
