/**
 * Response streaming, as AWS's Node.js runtime offers it on the global ``awslambda``:
 * ``awslambda.streamifyResponse(handler)`` marks a handler that is called as
 * ``handler(event, responseStream, context)``, and ``awslambda.HttpResponseStream.from(
 * responseStream, {statusCode, headers, cookies})`` puts a function URL's status and
 * headers in front of the body (the ``application/vnd.awslambda.http-integration-response``
 * prelude: the JSON, then 8 NUL bytes).
 *
 * ``responseStream`` is a ``Writable`` whose bytes go to the Runtime API as the chunks
 * of one chunked request on the runtime's connection, as they are written (no chunk
 * fidelity is promised, as AWS promises none); a failure ends that request with the
 * error in its trailers. Its write callbacks wait for the socket, so a slow reader
 * slows the writer.
 */

'use strict';

const { Writable } = require('stream');
const { InvalidStreamingOperation, MalformedStreamingHandler } = require('./errors.cjs');

// The markers AWS's runtime reads (Symbol.for: code built against AWS's runtime sets them).
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const PRELUDE_DELIMITER = new Uint8Array(8);
const CRLF = Buffer.from('\r\n');

function streamifyResponse(handler, options) {
  handler[HANDLER_STREAMING] = STREAM_RESPONSE;
  if (options && typeof options.highWaterMark === 'number') {
    handler[HANDLER_HIGHWATERMARK] = Number.parseInt(options.highWaterMark, 10);
  }
  return handler;
}

class HttpResponseStream {
  /** ``stream`` with ``prelude`` (status, headers, cookies) sent before its first bytes. */
  static from(stream, prelude) {
    stream.setContentType(PRELUDE_CONTENT_TYPE);
    // (JSON.stringify escapes any NUL, so the delimiter cannot occur inside the prelude)
    const json = JSON.stringify(prelude);
    stream._onBeforeFirstWrite = (write) => {
      write(json);
      write(PRELUDE_DELIMITER);
    };
    return stream;
  }
}

/** Whether ``handler`` streams; throws for a marker this runtime does not know. */
function isStreaming(handler) {
  const mode = handler[HANDLER_STREAMING];
  if (mode === undefined || mode === null || mode === false) {
    return false;
  }
  if (mode === STREAM_RESPONSE) {
    return true;
  }
  throw new MalformedStreamingHandler('Only response streaming is supported.');
}

function highWaterMark(handler) {
  const value = Number.parseInt(handler[HANDLER_HIGHWATERMARK], 10);
  return Number.isNaN(value) ? undefined : value;
}

function asBuffer(chunk) {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
}

/** One chunk of a chunked body (never an empty one: that would end the body). */
function frame(chunk) {
  return [Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, CRLF];
}

/**
 * The response stream of one invocation. ``onEnd(prefix, error)`` ends the request
 * (``prefix``: the head, if no byte has gone yet; ``error``: the failure's Runtime API
 * shape, or null); it is called once, by the stream's end or by ``fail``.
 */
class ResponseStream extends Writable {
  constructor(client, id, onEnd, options = {}) {
    super({ highWaterMark: options.highWaterMark });
    this._client = client;
    this._id = id;
    this._onEnd = onEnd;
    this._contentType = DEFAULT_CONTENT_TYPE;
    this._writeCalled = false;
    this._headSent = false;
    this._ended = false;
    // Set by HttpResponseStream.from: what goes before the first bytes.
    this._onBeforeFirstWrite = undefined;
  }

  /** True until the stream has ended or failed. */
  get open() {
    return !this._ended;
  }

  setContentType(contentType) {
    if (this._writeCalled) {
      throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    }
    this._contentType = String(contentType);
  }

  write(chunk, encoding, callback) {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
      chunk = JSON.stringify(chunk);
    }
    this._writeCalled = true;
    return super.write(chunk, encoding, callback);
  }

  end(chunk, encoding, callback) {
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
      if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
        chunk = JSON.stringify(chunk);
      }
    }
    this._writeCalled = true;
    return super.end(chunk, encoding, callback);
  }

  /** The head and the prelude, the first time bytes go (empty after). */
  _opening() {
    if (this._headSent) {
      return [];
    }
    this._headSent = true;
    const parts = [Buffer.from(this._client.streamHead(this._id, this._contentType), 'latin1')];
    if (typeof this._onBeforeFirstWrite === 'function') {
      this._onBeforeFirstWrite((piece) => {
        const bytes = asBuffer(piece);
        if (bytes.length > 0) {
          parts.push(...frame(bytes));
        }
      });
    }
    return parts;
  }

  _write(chunk, _encoding, callback) {
    if (this._ended) {
      callback(); // failed meanwhile: what the function still writes goes nowhere
      return;
    }
    const parts = this._opening();
    if (chunk.length > 0) {
      parts.push(...frame(chunk));
    }
    if (parts.length === 0) {
      callback();
      return;
    }
    this._client.streamWrite(Buffer.concat(parts), () => callback());
  }

  _final(callback) {
    if (!this._ended) {
      this._ended = true;
      this._onEnd(this._prefix(), null);
    }
    callback();
  }

  _prefix() {
    return Buffer.concat(this._opening());
  }

  /**
   * End the stream with ``error`` (its Runtime API shape), by ``onEnd`` if given (the
   * end of a process that crashed: no next event); false if it had ended.
   */
  fail(error, onEnd = this._onEnd) {
    if (this._ended) {
      return false;
    }
    this._ended = true;
    onEnd(this._prefix(), error);
    return true;
  }
}

module.exports = {
  HttpResponseStream,
  ResponseStream,
  highWaterMark,
  isStreaming,
  streamifyResponse,
};
