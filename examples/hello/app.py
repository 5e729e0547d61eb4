"""The smallest function: greets whoever the event names."""


def handler(event, context):
    name = event.get("name", "world")
    print(f"greeting {name}")
    return {"message": f"hello, {name}!", "request_id": context.aws_request_id}
