"""The test event templates: the shapes the event sources send."""

from __future__ import annotations

import json

from gureum.console import event_templates


def test_every_template_the_issue_names_is_offered_as_json() -> None:
    ids = {t["id"] for t in event_templates.listing()}
    assert {
        "hello-world",
        "apigateway-aws-proxy",
        "apigateway-http-api-proxy",
        "sqs-receive-message",
        "kinesis-get-records",
        "dynamodb-update",
        "s3-put",
        "sns-notification",
        "cloudwatch-scheduled-event",
    } <= ids
    for key in ids:
        json.dumps(event_templates.template(key))


def test_templates_have_their_sources_shapes() -> None:
    assert event_templates.template("apigateway-http-api-proxy")["version"] == "2.0"
    assert "httpMethod" in event_templates.template("apigateway-aws-proxy")
    records = {
        "sqs-receive-message": "aws:sqs",
        "kinesis-get-records": "aws:kinesis",
        "dynamodb-update": "aws:dynamodb",
        "s3-put": "aws:s3",
    }
    for key, source in records.items():
        assert event_templates.template(key)["Records"][0]["eventSource"] == source
    assert event_templates.template("sns-notification")["Records"][0]["EventSource"] == "aws:sns"
    assert event_templates.template("cloudwatch-scheduled-event")["source"] == "aws.events"
    # A copy each time: editing one does not change the template.
    event_templates.template("hello-world")["key1"] = "changed"
    assert event_templates.template("hello-world")["key1"] == "value1"
