/**
 * gureum's Node.js runtime: runs ``file.export`` handlers against the Runtime API.
 *
 * Node's built-ins only, so it starts fast under the host's ``node`` (18 or later).
 * It behaves like AWS's Node.js runtime: the same ``context``, the same error shapes
 * (``{"errorType","errorMessage","trace"}``) and ``Runtime.*`` init errors, the same
 * console records, and ``_X_AMZN_TRACE_ID`` set on every invoke.
 *
 * The programming model follows the runtime identifier in ``AWS_EXECUTION_ENV``:
 * up to ``nodejs22.x``, callback handlers, ``context.succeed``/``fail``/``done`` and
 * ``callbackWaitsForEmptyEventLoop`` (the response waits for ``beforeExit``, when the
 * event loop holds nothing but the idle connection to the Runtime API); from
 * ``nodejs24.x``, as Lambda there, only handlers that return a value or a promise,
 * and a handler with a third (callback) parameter fails init.
 *
 * A handler wrapped in ``awslambda.streamifyResponse`` (the global ``awslambda``, as on
 * Lambda) streams its response in either model (``response_stream.cjs``).
 *
 * Run: ``node runtime.cjs`` with the sandbox's environment (``AWS_LAMBDA_RUNTIME_API``,
 * ``_HANDLER``, ``LAMBDA_TASK_ROOT``, ...).
 */

'use strict';

const { patchConsole, setRequestId, logError } = require('./log_patch.cjs');
const { resolveLocalhostNames } = require('./localhost.cjs');
const Errors = require('./errors.cjs');
const { RapidClient } = require('./rapid_client.cjs');
const Streaming = require('./response_stream.cjs');
const UserFunction = require('./user_function.cjs');

/**
 * A runtime started ahead of need (gureum keeps a few per Node.js version, as Lambda's
 * pre-warmed pools do): Node has booted and the runtime's modules are loaded; it waits
 * here to be told its sandbox's environment (a length-prefixed JSON message on the
 * descriptor GUREUM_PRESTART_FD), then starts as any runtime does.
 */
function awaitSandbox(fd) {
  const fs = require('fs');
  const read = (size) => {
    const buffer = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const count = fs.readSync(fd, buffer, got, size - got, null);
      if (count === 0) {
        process.exit(0); // not wanted any more
      }
      got += count;
    }
    return buffer;
  };
  const sandbox = JSON.parse(read(read(4).readUInt32BE(0)).toString());
  fs.closeSync(fd);
  for (const key of Object.keys(process.env)) {
    delete process.env[key];
  }
  Object.assign(process.env, sandbox.env);
  require('module')._initPaths(); // NODE_PATH is read at start: read it again
  process.chdir(sandbox.env.LAMBDA_TASK_ROOT || '/var/task'); // (it waited at /)
}

if (process.env.GUREUM_PRESTART_FD) {
  require('net'); // what the Runtime API's client needs, loaded before the wait
  awaitSandbox(Number(process.env.GUREUM_PRESTART_FD));
}

const env = process.env;
const NODE_MAJOR = runtimeMajor();
// Node.js 24's runtime dropped callbacks (and with them the wait for an empty loop).
const PROMISES_ONLY = NODE_MAJOR >= 24;
const CALLBACK_WARNING =
  'AWS Lambda plans to remove support for callback-based function handlers starting with ' +
  'Node.js 24. You will need to update this function to use an async handler to use Node.js ' +
  '24 or later. For more information and to provide feedback on this change, see ' +
  'https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. To disable ' +
  'this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.';
const CALLBACKS_REMOVED =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with ' +
  'Node.js 24. You need to modify this function to use a supported handler signature to use ' +
  'Node.js 24 or later. For more information see ' +
  'https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

/** The Node.js major version of the runtime identifier (nodejs20.x: 20), else node's own. */
function runtimeMajor() {
  const named = /^AWS_Lambda_nodejs(\d+)/.exec(env.AWS_EXECUTION_ENV || '');
  return Number(named ? named[1] : process.versions.node.split('.')[0]);
}

/** NODE_PATH as Lambda sets it, when the sandbox has not: layers, the runtime, the task. */
function setNodePath(taskRoot) {
  if (env.NODE_PATH) {
    return;
  }
  const runtimeDir = env.LAMBDA_RUNTIME_DIR || __dirname;
  env.NODE_PATH = [
    `/opt/nodejs/node${NODE_MAJOR}/node_modules`,
    '/opt/nodejs/node_modules',
    `${runtimeDir}/node_modules`,
    runtimeDir,
    taskRoot,
  ].join(':');
  // Node reads NODE_PATH once at start; this process started without it.
  const Module = require('module');
  if (typeof Module._initPaths === 'function') {
    Module._initPaths();
  }
}

/**
 * The AWS SDK for JavaScript v2 reads no endpoint from the environment (v3 and boto3
 * read AWS_ENDPOINT_URL): when a function loads its own ``aws-sdk``, its global config
 * gets the platform's endpoint, unless the function set one, so ``new AWS.DynamoDB()``
 * reaches gureum with the function's code unchanged (region and keys it reads from the
 * environment itself).
 */
function pointSdkV2AtTheEndpoint() {
  const endpoint = env.AWS_ENDPOINT_URL;
  if (!endpoint) {
    return;
  }
  const Module = require('module');
  const load = Module._load;
  Module._load = function gureumLoad(request, parent, isMain) {
    const exported = load.call(this, request, parent, isMain);
    if (request === 'aws-sdk' && exported && exported.config && !exported.__gureum) {
      Object.defineProperty(exported, '__gureum', { value: true });
      if (!exported.config.endpoint && typeof exported.config.update === 'function') {
        exported.config.update({ endpoint, s3ForcePathStyle: true });
      }
    }
    return exported;
  };
}

const taskRoot = env.LAMBDA_TASK_ROOT || process.cwd();
setNodePath(taskRoot);
pointSdkV2AtTheEndpoint();
resolveLocalhostNames(); // the HTTPS edge's names, *.localhost (localhost.cjs)
try {
  process.chdir(taskRoot);
} catch {
  // A task root that is not a directory fails at the handler's import, with its error.
}
patchConsole();
const client = new RapidClient(env.AWS_LAMBDA_RUNTIME_API);

// What the context carries from the environment, read once.
const FUNCTION_VERSION = env.AWS_LAMBDA_FUNCTION_VERSION;
const FUNCTION_NAME = env.AWS_LAMBDA_FUNCTION_NAME;
const MEMORY_LIMIT = env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
const LOG_GROUP = env.AWS_LAMBDA_LOG_GROUP_NAME;
const LOG_STREAM = env.AWS_LAMBDA_LOG_STREAM_NAME;

// Until the first invoke, a crash is an init failure; then it is the current invoke's.
let onUncaughtException = (error) => crashed(null, error, 129);
let onUnhandledRejection = (error) => crashed(null, error, 128);
process.on('uncaughtException', (error) => {
  logError('Uncaught Exception', error);
  onUncaughtException(error);
});
process.on('unhandledRejection', (reason, promise) => {
  const error = new Errors.UnhandledPromiseRejection(reason, promise);
  logError('Unhandled Promise Rejection', error);
  onUnhandledRejection(error);
});

// One listener slot: what to do when the function's work has drained the event loop.
const noop = () => {};
let beforeExit = noop;
process.on('beforeExit', () => beforeExit());

function exit(code) {
  return () => process.exit(code);
}

let handler;
let handlerIsAsync = false;
let handlerStreams = false;
let streamOptions = {};
// The response stream of the current invocation, while it is open.
let openStream = null;

function nextInvocation() {
  client.next(onEvent);
}

// What runs each event: the programming model of the runtime identifier (or streaming).
let onEvent = PROMISES_ONLY ? invokePromise : invokeWithCallbacks;

function parseJson(raw, name) {
  if (raw === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new Error(`Cannot parse ${name} as json: ${error.toString()}`);
  }
}

/** Fill ``target`` (the callback part of the context, or a new object) for one invoke. */
function attachContext(target, headers, id) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  target.functionVersion = FUNCTION_VERSION;
  target.functionName = FUNCTION_NAME;
  target.memoryLimitInMB = MEMORY_LIMIT;
  target.logGroupName = LOG_GROUP;
  target.logStreamName = LOG_STREAM;
  target.clientContext = parseJson(headers['lambda-runtime-client-context'], 'ClientContext');
  target.identity = parseJson(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity');
  target.invokedFunctionArn = headers['lambda-runtime-invoked-function-arn'];
  target.awsRequestId = id;
  target.tenantId = headers['lambda-runtime-aws-tenant-id'];
  if (PROMISES_ONLY) {
    target.xRayTraceId = headers['lambda-runtime-trace-id'];
  }
  target.getRemainingTimeInMillis = () => deadline - Date.now();
  return target;
}

/** The per-invoke part shared by both models: logs' request id, trace id, crash reports. */
function beginInvoke(headers) {
  const id = headers['lambda-runtime-aws-request-id'];
  setRequestId(id);
  const traceId = headers['lambda-runtime-trace-id'];
  if (traceId) {
    env._X_AMZN_TRACE_ID = traceId;
  } else {
    delete env._X_AMZN_TRACE_ID;
  }
  onUncaughtException = (error) => crashed(id, error, 129);
  onUnhandledRejection = (error) => crashed(id, error, 128);
  return id;
}

/**
 * A crash ends the process. It is reported as the init's error (``id`` null) or the
 * invocation's, unless that is over and the runtime waits for an event: the report
 * would queue behind that request, and the sandbox sees the exit anyway.
 */
function crashed(id, error, code) {
  if (client.awaitingEvent) {
    process.exit(code);
  } else if (openStream !== null && openStream.open) {
    // (its request is on the connection: the error goes in its trailers)
    const end = (prefix, response) => client.streamEnd(prefix, response, exit(code));
    openStream.fail(Errors.toRapidResponse(error), end);
  } else if (id === null) {
    client.initError(Errors.toRapidResponse(error), exit(code));
  } else {
    client.error(id, Errors.toRapidResponse(error), exit(code));
  }
}

function serialize(result) {
  try {
    return JSON.stringify(result === undefined ? null : result);
  } catch {
    throw PROMISES_ONLY
      ? new Errors.JSONStringifyError('Unable to stringify response body')
      : new Error('Unable to stringify response body');
  }
}

function responseRefused(status) {
  if (status === 413) {
    process.stderr.write(
      `[ERROR] [${Date.now()}] LAMBDA_RUNTIME Failed to post handler success response. ` +
        'Http response code: 413.\n',
    );
  }
}

/** Post a result (serialized first: a failure throws to the caller), then go on. */
function postResult(id, result) {
  client.respondThenNext(id, serialize(result), responseRefused, onEvent);
}

function postError(id, error) {
  logError('Invoke Error', error);
  client.errorThenNext(id, Errors.toRapidResponse(error), onEvent);
}

function isPromise(value) {
  return value && typeof value.then === 'function';
}

/**
 * ``callback``, and the context's ``succeed``/``fail``/``done`` and
 * ``callbackWaitsForEmptyEventLoop``, for one invoke. The first of them called wins.
 * ``callback`` with the flag set (the default) answers only once the event loop is
 * empty of the function's work; ``succeed``/``fail``/``done`` answer at once.
 */
function callbackContext(id) {
  let waitForEmptyEventLoop = true;
  let completed = false;
  let finished = false;

  const complete = (result) => {
    if (completed) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once ' +
          'per invocation.',
      );
      return;
    }
    completed = true;
    postResult(id, result);
  };
  const callback = (error, result) => {
    beforeExit = noop;
    if (error !== undefined && error !== null) {
      postError(id, error);
    } else if (!waitForEmptyEventLoop) {
      complete(result);
    } else {
      beforeExit = () => setImmediate(() => complete(result));
    }
  };
  const done = (error, result) => {
    beforeExit = noop;
    if (error !== undefined && error !== null) {
      postError(id, error);
    } else {
      complete(result);
    }
  };
  // Marked finished only once the call returns: a result that cannot be serialized
  // throws out of it, and the failure is then reported through ``fail``.
  const once =
    (fn) =>
    (...args) => {
      if (!finished) {
        fn(...args);
        finished = true;
      }
    };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: once((result) => done(null, result)),
    fail: once((error) => (error === undefined || error === null ? done('handled') : done(error, null))),
    done: once(done),
  };
  const markCompleted = () => {
    completed = true;
  };
  return [once(callback), context, markCompleted];
}

/** One invoke in the model of Lambda's runtimes up to nodejs22.x. */
function invokeWithCallbacks(headers, body) {
  const id = beginInvoke(headers);
  const [callback, context, markCompleted] = callbackContext(id);
  // Neither a callback nor a settled promise by the time the loop drains: a plain
  // function has answered null, an async one will never answer.
  beforeExit = () => {
    markCompleted();
    if (handlerIsAsync) {
      postError(id, new Errors.NodeJsExit());
    } else {
      postResult(id, null);
    }
  };
  try {
    const result = handler(JSON.parse(body), attachContext(context, headers, id), callback);
    if (isPromise(result)) {
      result.then(context.succeed, context.fail).catch(context.fail);
    }
  } catch (error) {
    callback(error);
  }
}

/** One invoke in Node.js 24's model: the handler's value, or what its promise settles to. */
function invokePromise(headers, body) {
  const id = beginInvoke(headers);
  let settled = false;
  const succeed = (result) => {
    if (settled) {
      return;
    }
    settled = true;
    beforeExit = noop;
    setImmediate(() => {
      try {
        postResult(id, result);
      } catch (error) {
        postError(id, error);
      }
    });
  };
  const fail = (error) => {
    if (settled) {
      return;
    }
    settled = true;
    beforeExit = noop;
    setImmediate(() => postError(id, error));
  };
  beforeExit = () => fail(new Errors.NodeJsExit());
  let result;
  try {
    result = handler(JSON.parse(body), attachContext({}, headers, id));
  } catch (error) {
    fail(error);
    return;
  }
  if (isPromise(result)) {
    result.then(succeed, fail);
  } else {
    succeed(result);
  }
}

/**
 * One invoke of a streaming handler: ``handler(event, responseStream, context)``. The
 * invocation ends when the stream does (the handler's promise only reports a failure);
 * a stream that the function leaves open once its work is done fails as an unsettled
 * promise does.
 */
function invokeStreaming(headers, body) {
  const id = beginInvoke(headers);
  const stream = new Streaming.ResponseStream(
    client,
    id,
    (prefix, error) => {
      openStream = null;
      beforeExit = noop;
      client.streamEnd(prefix, error, responseRefused, onEvent);
    },
    streamOptions,
  );
  openStream = stream;
  const fail = (error) => {
    if (stream.open) {
      logError('Invoke Error', error);
      stream.fail(Errors.toRapidResponse(error));
    }
  };
  stream.on('error', fail);
  beforeExit = () => fail(new Errors.NodeJsExit());
  let result;
  try {
    result = handler(JSON.parse(body), stream, attachContext({}, headers, id));
  } catch (error) {
    fail(error);
    return;
  }
  if (isPromise(result)) {
    result.then((value) => {
      if (value !== undefined) {
        console.warn('Streaming handlers ignore return values.');
      }
    }, fail);
  }
}

function initFailed(error) {
  logError(PROMISES_ONLY ? 'Init Error' : 'Uncaught Exception', error);
  client.initError(Errors.toRapidResponse(error), exit(129));
}

// As on Lambda, unless the function opts out (AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA).
if (!['1', 'true'].includes(env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA)) {
  globalThis.awslambda = {
    streamifyResponse: Streaming.streamifyResponse,
    HttpResponseStream: Streaming.HttpResponseStream,
  };
}

UserFunction.load(taskRoot, env._HANDLER || '', { defaultExport: PROMISES_ONLY }).then(
  (loaded) => {
    handler = loaded;
    handlerIsAsync = loaded.constructor !== undefined && loaded.constructor.name === 'AsyncFunction';
    try {
      handlerStreams = Streaming.isStreaming(loaded);
    } catch (error) {
      initFailed(error);
      return;
    }
    if (handlerStreams) {
      // (its third parameter is the context, not a callback)
      streamOptions = { highWaterMark: Streaming.highWaterMark(loaded) };
      onEvent = invokeStreaming;
      nextInvocation();
      return;
    }
    if (PROMISES_ONLY && loaded.length >= 3) {
      initFailed(new Errors.CallbackHandlerDeprecated(CALLBACKS_REMOVED));
      return;
    }
    if (
      loaded.length === 3 &&
      !handlerIsAsync &&
      env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING === undefined
    ) {
      console.warn(CALLBACK_WARNING);
    }
    nextInvocation();
  },
  initFailed,
);
