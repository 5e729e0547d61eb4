/**
 * ``console`` as Lambda's Node.js runtime patches it.
 *
 * Every console method writes one record to stdout:
 * ``<ISO time>\t<request id>\t<LEVEL>\t<util.format(...)>`` (TEXT), or a JSON object
 * ``{"timestamp","level","requestId","message"}`` (``AWS_LAMBDA_LOG_FORMAT=JSON``).
 * The sandbox cuts the process's output into records at ``\n``, so the newlines
 * inside a record are written as ``\r``, as Lambda does when it logs to stdout: a
 * stack trace stays one record. ``AWS_LAMBDA_LOG_LEVEL`` turns the methods below its
 * level into no-ops.
 */

'use strict';

const { format } = require('util');
const { intoError, toFormatted } = require('./errors.cjs');

// Shared through the global object, as AWS's runtime shares it, so that libraries
// that read the current request id from there find it.
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');

const LEVELS = {
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
};

// Created on the first record: making process.stdout costs a millisecond of start-up.
let stdout = null;

function setRequestId(id) {
  globalThis[REQUEST_ID] = id;
}

function textLine(level, message, params) {
  const line = `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level.name}\t${format(
    message,
    ...params,
  )}`;
  (stdout ??= process.stdout).write(line.replaceAll('\n', '\r') + '\n');
}

function serializedError(error) {
  return Object.assign(
    {
      errorType: error?.constructor?.name ?? 'UnknownError',
      errorMessage: error.message,
      stackTrace: typeof error.stack === 'string' ? error.stack.split('\n') : error.stack,
    },
    error,
  );
}

function errorReplacer(_key, value) {
  return value instanceof Error ? serializedError(value) : value;
}

function jsonRecord(level, message, params) {
  const record = {
    timestamp: new Date().toISOString(),
    level: level.name,
    requestId: globalThis[REQUEST_ID],
  };
  if (params.length === 0) {
    // One argument is kept as it is (an object stays an object in the record).
    record.message = message;
    try {
      return JSON.stringify(record, errorReplacer);
    } catch {
      record.message = format(message);
      return JSON.stringify(record);
    }
  }
  record.message = format(message, ...params);
  for (const param of params) {
    if (param instanceof Error) {
      record.errorType = param?.constructor?.name ?? 'UnknownError';
      record.errorMessage = param.message;
      record.stackTrace = typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(record);
}

function jsonLine(level, message, params) {
  (stdout ??= process.stdout).write(jsonRecord(level, message, params).replaceAll('\n', '\r') + '\n');
}

const noop = () => {};
let logError = noop;

/** Replace console's methods; returns the log format in force (TEXT or JSON). */
function patchConsole() {
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const minimum = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;
  const write = json ? jsonLine : textLine;
  const method = (level) =>
    level.priority >= minimum.priority ? (message, ...params) => write(level, message, params) : noop;
  console.trace = method(LEVELS.TRACE);
  console.debug = method(LEVELS.DEBUG);
  console.info = method(LEVELS.INFO);
  console.log = console.info;
  console.warn = method(LEVELS.WARN);
  console.error = method(LEVELS.ERROR);
  console.fatal = method(LEVELS.FATAL);
  // How the runtime logs the errors it reports (``Invoke Error``, ``Uncaught Exception``).
  logError = json
    ? (_what, error) => console.error(intoError(error))
    : (what, error) => console.error(what, toFormatted(intoError(error)));
  return json ? 'JSON' : 'TEXT';
}

module.exports = {
  patchConsole,
  setRequestId,
  logError: (what, error) => logError(what, error),
};
