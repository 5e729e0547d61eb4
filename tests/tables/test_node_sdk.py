"""The AWS SDK for JavaScript inside a Node.js function, against the tables: v3's
``DynamoDBDocumentClient`` (``@aws-sdk/lib-dynamodb``) and v2's
``AWS.DynamoDB.DocumentClient``, both from ``/var/runtime/node_modules`` as Lambda's
runtimes ship them, installed the way docs/nodejs.md says (``gureum runtimes install
nodejs``). Neither is given an endpoint: v3 reads ``AWS_ENDPOINT_URL``, and the runtime
points v2 at the server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import (
    NODE_TEST_PACKAGES,
    ROLE,
    RunningServer,
    client,
    install_node_packages,
    unique_name,
    zip_files,
)
from tests.test_examples import node_runtime

V3 = """
const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
const {
  DynamoDBDocumentClient, PutCommand, GetCommand, QueryCommand,
} = require("@aws-sdk/lib-dynamodb");

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));

exports.handler = async (event) => {
  const TableName = event.table;
  for (const sk of [1, 2, 3]) {
    await documents.send(new PutCommand({
      TableName,
      Item: { pk: "user", sk, name: `name ${sk}`, profile: { tags: ["a", "b"], ok: true } },
    }));
  }
  let refused = null;
  try {
    await documents.send(new PutCommand({
      TableName, Item: { pk: "user", sk: 1 }, ConditionExpression: "attribute_not_exists(pk)",
    }));
  } catch (error) {
    refused = error.name;
  }
  const got = await documents.send(new GetCommand({ TableName, Key: { pk: "user", sk: 2 } }));
  const queried = await documents.send(new QueryCommand({
    TableName,
    KeyConditionExpression: "pk = :pk AND sk >= :from",
    ExpressionAttributeValues: { ":pk": "user", ":from": 2 },
    ScanIndexForward: false,
  }));
  return { got: got.Item, items: queried.Items, count: queried.Count, refused };
};
"""

V2 = """
const AWS = require("aws-sdk");

const documents = new AWS.DynamoDB.DocumentClient();

exports.handler = async (event) => {
  const TableName = event.table;
  for (const sk of [1, 2, 3]) {
    await documents.put({
      TableName,
      Item: { pk: "user", sk, name: `name ${sk}`, profile: { tags: ["a", "b"], ok: true } },
    }).promise();
  }
  let refused = null;
  try {
    await documents.put({
      TableName, Item: { pk: "user", sk: 1 }, ConditionExpression: "attribute_not_exists(pk)",
    }).promise();
  } catch (error) {
    refused = error.code;
  }
  const got = await documents.get({ TableName, Key: { pk: "user", sk: 2 } }).promise();
  const queried = await documents.query({
    TableName,
    KeyConditionExpression: "pk = :pk AND sk >= :from",
    ExpressionAttributeValues: { ":pk": "user", ":from": 2 },
    ScanIndexForward: false,
  }).promise();
  return { got: got.Item, items: queried.Items, count: queried.Count, refused };
};
"""


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import make_settings

    runtime = node_runtime()
    server = RunningServer(make_settings(tmp_path_factory.mktemp("node-sdk")))
    server.start()
    try:
        install_node_packages(server.settings.data_dir, *NODE_TEST_PACKAGES)
        yield server, runtime
    finally:
        server.stop()


@pytest.mark.parametrize("code", [V3, V2], ids=["sdk-v3-document-client", "sdk-v2-document-client"])
def test_document_client_puts_gets_and_queries(node_server: Any, code: str) -> None:
    server, runtime = node_server
    dynamodb = client("dynamodb", server.endpoint)
    table = unique_name("node-sdk")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    lam = client("lambda", server.endpoint)
    name = unique_name("node-sdk")
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler="index.handler",
        Timeout=30,
        MemorySize=1024,  # loading the SDK takes CPU, which comes with memory
        Code={"ZipFile": zip_files({"index.js": code})},
    )
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"table": table}))
    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer

    profile = {"tags": ["a", "b"], "ok": True}
    assert answer["got"] == {"pk": "user", "sk": 2, "name": "name 2", "profile": profile}
    assert answer["count"] == 2
    assert [item["sk"] for item in answer["items"]] == [3, 2]
    assert answer["refused"] == "ConditionalCheckFailedException"
    # What the document client wrote, in DynamoDB's types, seen by boto3.
    stored = dynamodb.get_item(TableName=table, Key={"pk": {"S": "user"}, "sk": {"N": "1"}})
    assert stored["Item"] == {
        "pk": {"S": "user"},
        "sk": {"N": "1"},
        "name": {"S": "name 1"},
        "profile": {"M": {"tags": {"L": [{"S": "a"}, {"S": "b"}]}, "ok": {"BOOL": True}}},
    }
