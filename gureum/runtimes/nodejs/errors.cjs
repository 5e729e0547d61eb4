/**
 * The runtime's error types and the two shapes errors travel in.
 *
 * An error goes to the Runtime API as ``{"errorType","errorMessage","trace"}``
 * (``toRapidResponse``) and to the function's log as a tab and a JSON object that
 * also carries the error's own enumerable properties (``toFormatted``), as AWS's
 * Node.js runtime sends and logs them: callers parse both.
 */

'use strict';

const { isNativeError } = require('util').types;

/** Lambda's init and invoke failures; each is named ``Runtime.<Class>``. */
class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class CallbackHandlerDeprecated extends Error {}
class JSONStringifyError extends Error {}
class InvalidStreamingOperation extends Error {}
class MalformedStreamingHandler extends Error {}
class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most ' +
        'commonly caused by a Promise that was never settled. For more information, see ' +
        'https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}

const RUNTIME_ERRORS = {
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  CallbackHandlerDeprecated,
  JSONStringifyError,
  InvalidStreamingOperation,
  MalformedStreamingHandler,
  NodeJsExit,
  UnhandledPromiseRejection,
};
for (const [name, cls] of Object.entries(RUNTIME_ERRORS)) {
  cls.prototype.name = `Runtime.${name}`;
}

function isErrorLike(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string' &&
    value.name !== '' &&
    value.message !== '' &&
    value.stack !== ''
  );
}

// DEL cannot travel in a header and is escaped as AWS's runtime escapes it.
const escapeDel = (text) => (text.includes('\x7F') ? text.replaceAll('\x7F', '%7F') : text);

/** The body of ``/error`` and ``/init/error``: what the caller of Invoke receives. */
function toRapidResponse(error) {
  try {
    if (isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: escapeDel(String(error.name)),
        errorMessage: escapeDel(String(error.message)),
        trace: typeof error.stack === 'string' ? escapeDel(error.stack).split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving ' +
        'one or more of its message, name, and stack',
      trace: [],
    };
  }
}

/** Anything thrown, as an Error (a thrown string becomes its message). */
function intoError(value) {
  return value instanceof Error ? value : new Error(value);
}

function withEnumerableProperties(_key, value) {
  if (!(value instanceof Error)) {
    return value;
  }
  const shown = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === 'string') {
    shown.stack = value.stack.split('\n');
  }
  return shown;
}

/** An error as the log shows it: a tab, then JSON with its name, message and stack. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, withEnumerableProperties);
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

module.exports = { ...RUNTIME_ERRORS, toRapidResponse, intoError, toFormatted };
