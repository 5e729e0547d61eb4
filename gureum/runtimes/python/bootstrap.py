"""gureum's Python runtime: runs ``module.function`` handlers against the Runtime API.

Standard library only, so it starts fast under any Python 3.9+ interpreter the host
has. It behaves like AWS's Python runtime (awslambdaric): the same ``context`` object,
the same error types for init failures, ``Runtime.MarshalError`` for a result that
is not JSON-serialisable, and ``_X_AMZN_TRACE_ID`` set on every invoke.
"""

import importlib
import json
import os
import socket
import sys
import time
import traceback

RUNTIME_PATH = b"/2018-06-01/runtime"
#: Set by the zygote: serves restores of this initialized process (snapshot mode).
SNAPSHOT = None


class LambdaContext:
    """The ``context`` handed to a handler (same attributes as AWS's runtime)."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = _ClientContext.parse(client_context)
        self.identity = _CognitoIdentity.parse(identity)
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


class _CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None

    @classmethod
    def parse(cls, raw):
        identity = cls()
        if raw:
            data = json.loads(raw)
            identity.cognito_identity_id = data.get("cognitoIdentityId")
            identity.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")
        return identity


class _Client:
    installation_id = app_title = app_version_name = app_version_code = app_package_name = None


class _ClientContext:
    client = None
    custom = None
    env = None

    @classmethod
    def parse(cls, raw):
        if not raw:
            return None
        data = json.loads(raw)
        context = cls()
        client = data.get("client")
        if client:
            context.client = _Client()
            context.client.installation_id = client.get("installation_id")
            context.client.app_title = client.get("app_title")
            context.client.app_version_name = client.get("app_version_name")
            context.client.app_version_code = client.get("app_version_code")
            context.client.app_package_name = client.get("app_package_name")
        context.custom = data.get("custom")
        context.env = data.get("env")
        return context


class FaultError(Exception):
    """An init failure with its Lambda error type (``Runtime.ImportModuleError`` ...)."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def error_body(error_type, message, trace, request_id=""):
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": trace,
        }
    ).encode()


def _stack(exc):
    # The runtime's own frames are not the user's business (AWS's runtime drops them too).
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    return traceback.format_list(frames)


def load_handler(handler):
    """Import ``module.function``; raise FaultError with Lambda's error types."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError:
        raise FaultError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
        ) from None
    module_name = module_name.replace("/", ".")
    if not all(module_name.split(".")):
        # (relative, absolute or empty parts: "../../etc/passwd", "/app", "a..b")
        raise FaultError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': the module part must be a path of names under the "
            "task root, such as 'app' or 'src/app'",
        )
    try:
        module = importlib.import_module(module_name)
    except (ImportError, OSError) as exc:  # (OSError: a file it may not read, 0600)
        raise FaultError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        raise FaultError(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {exc}",
            [f'  File "{exc.filename}" Line {exc.lineno}\n    {(exc.text or "").strip()}\n'],
        ) from None
    except Exception as exc:
        raise FaultError(type(exc).__name__, str(exc), _stack(exc)) from None
    function = getattr(module, function_name, None)
    if function is None:
        raise FaultError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return function


class RuntimeClient:
    """A keep-alive HTTP/1.1 client of the Runtime API on a raw socket.

    http.client parses headers with the email package; this client reads exactly what
    the Runtime API sends. After a response or an error it asks for the next event in
    the same write (HTTP pipelining: the Runtime API answers a connection's requests in
    order), which saves a loopback round trip per warm invoke.
    """

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.host = address.encode()
        self.sock = None
        self.buffer = b""
        self.next_requested = False

    def _encode(self, method, path, body=b"", headers=()):
        head = [
            b"%s %s%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
            % (method, RUNTIME_PATH, path, self.host, len(body))
        ]
        for name, value in headers:
            head.append(b"%s: %s\r\n" % (name, value.encode("latin-1")))
        head.append(b"\r\n")
        return b"".join(head) + body

    def _send(self, data):
        if self.sock is None:
            # A numeric address needs no resolver: create_connection's getaddrinfo would
            # import the idna codec, milliseconds of every cold start.
            self.sock = socket.socket(socket.AF_INET)
            try:
                self.sock.connect(self.address)
            except OSError:
                self.sock.close()
                self.sock = socket.create_connection(self.address)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the Runtime API closed the connection")
        self.buffer += chunk

    def _response(self):
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def _post_then_next(self, path, body, headers):
        self._send(
            self._encode(b"POST", path, body, headers) + self._encode(b"GET", b"/invocation/next")
        )
        self.next_requested = True
        status, _, answer = self._response()
        return status, answer

    def next(self):
        if not self.next_requested:
            self._send(self._encode(b"GET", b"/invocation/next"))
        self.next_requested = False
        status, headers, body = self._response()
        if status != 200:
            raise RuntimeError(f"invocation/next answered {status}: {body[:200]!r}")
        return headers, body

    def respond(self, request_id, body):
        return self._post_then_next(
            b"/invocation/%s/response" % request_id.encode(),
            body,
            ((b"Content-Type", "application/json"),),
        )

    def error(self, request_id, error_type, body):
        return self._post_then_next(
            b"/invocation/%s/error" % request_id.encode(),
            body,
            (
                (b"Content-Type", "application/json"),
                (b"Lambda-Runtime-Function-Error-Type", error_type),
            ),
        )

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def init_error(self, error_type, body):
        self._send(
            self._encode(
                b"POST",
                b"/init/error",
                body,
                (
                    (b"Content-Type", "application/json"),
                    (b"Lambda-Runtime-Function-Error-Type", error_type),
                ),
            )
        )
        return self._response()[0]


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _report_error(client, request_id, exc):
    if isinstance(exc, FaultError):
        error_type, message, trace = exc.error_type, exc.message, exc.trace
    else:
        error_type, message, trace = type(exc).__name__, str(exc), _stack(exc)
    # AWS's runtime logs the error in the function's log too.
    print(f"[ERROR] {error_type}: {message}", file=sys.stderr)
    for line in "".join(trace).rstrip("\n").splitlines():
        print(line, file=sys.stderr)
    _flush()
    client.error(request_id, error_type, error_body(error_type, message, trace, request_id))


def _run_hooks(client, getter, error_type):
    """Run the function's SnapStart hooks (if it imported ``snapshot_restore_py``)."""
    hooks = sys.modules.get("snapshot_restore_py")
    if hooks is None:
        return
    for func, args, kwargs in getattr(hooks, getter)():
        try:
            func(*args, **kwargs)
        except Exception as exc:
            message, trace = f"{type(exc).__name__}: {exc}", _stack(exc)
            print(f"[ERROR] {error_type}: {message}", file=sys.stderr)
            _flush()
            client.init_error(error_type, error_body(error_type, message, trace))
            sys.exit(1)


def resolve_localhost_names():
    """Every name under ``localhost`` is the loopback address (RFC 6761), as browsers
    have it; glibc resolves only ``localhost`` itself. gureum's HTTPS edge is reached at
    such names (``API.execute-api.localhost:PORT``, API Gateway's ``domainName``), so
    ``socket.getaddrinfo`` (what ``create_connection``, urllib, botocore and requests
    call) answers them with 127.0.0.1 (``::1`` when IPv6 alone is asked for); every
    other name goes to the system's resolver as before."""
    system = socket.getaddrinfo
    if getattr(system, "gureum_localhost", False):
        return

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if isinstance(name, str) and name.rstrip(".").lower().endswith(".localhost"):
            host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        return system(host, port, family, type, proto, flags)

    getaddrinfo.gureum_localhost = True
    socket.getaddrinfo = getaddrinfo


def main():
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    resolve_localhost_names()
    # The runtime's own directory is sys.path[0]; handler modules come from the task.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    os.chdir(task_root)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass

    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except FaultError as exc:
        print(f"[ERROR] {exc.error_type}: {exc.message}", file=sys.stderr)
        _flush()
        client.init_error(exc.error_type, error_body(exc.error_type, exc.message, exc.trace))
        sys.exit(1)
    snapshot_socket = os.environ.get("GUREUM_SNAPSHOT_SOCKET")
    if snapshot_socket and SNAPSHOT is not None:
        # Snapshot mode: this initialized process is the template; each restore returns
        # here in a sandbox of its own, with its own environment and Runtime API.
        _run_hooks(client, "get_before_snapshot", "Runtime.BeforeSnapshotError")
        _flush()
        client.close()
        SNAPSHOT(snapshot_socket)
        client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
        _run_hooks(client, "get_after_restore", "Runtime.AfterRestoreError")

    while True:
        headers, payload = client.next()
        request_id = headers.get("lambda-runtime-aws-request-id")
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        context = LambdaContext(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            headers.get("lambda-runtime-client-context"),
            headers.get("lambda-runtime-cognito-identity"),
        )
        try:
            event = json.loads(payload) if payload else {}
        except ValueError as exc:
            _report_error(
                client,
                request_id,
                FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}"),
            )
            continue
        try:
            result = handler(event, context)
        except Exception as exc:
            _report_error(client, request_id, exc)
            continue
        try:
            body = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            _report_error(
                client,
                request_id,
                FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}"),
            )
            continue
        _flush()
        status, answer = client.respond(request_id, body)
        if status == 413:
            print(
                f"[ERROR] Failed to post handler success response. Http response code: 413. "
                f"{answer.decode(errors='replace')}",
                file=sys.stderr,
            )
            _flush()


if __name__ == "__main__":
    main()
