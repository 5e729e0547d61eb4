/**
 * A client of the Lambda Runtime API (2018-06-01) on one keep-alive TCP connection.
 *
 * Not ``http``: its agent cannot pipeline, so each warm invoke would cost two loopback
 * round trips (the answer, its 202, then the request for the next event), twice the
 * Python runtime's. Like that runtime, this client sends the answer and the request
 * for the next event in one write and reads the Runtime API's replies in order; gureum's
 * server then sends the 202 together with the next event. It reads exactly what the
 * Runtime API sends: a status line, headers, a ``Content-Length`` body.
 *
 * The socket is unref'd whenever no reply is awaited, so the connection never keeps
 * the event loop alive by itself and ``beforeExit`` still tells when the function's own
 * work is done (what ``callbackWaitsForEmptyEventLoop`` waits for). A request for the
 * next event holds the loop open while it waits, as it must.
 */

'use strict';

const net = require('net');

const BASE = '/2018-06-01/runtime';
const HEAD_END = Buffer.from('\r\n\r\n');
const ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY = 'Lambda-Runtime-Function-Error-Body';
// A header value must be visible ASCII (a custom error name may be anything).
const HEADER_SAFE = /^[\x21-\x7e][\x20-\x7e]*$/;

class RapidClient {
  constructor(address) {
    const colon = address.lastIndexOf(':');
    this.host = address.slice(0, colon);
    this.port = Number(address.slice(colon + 1));
    this.nextRequest = `GET ${BASE}/invocation/next HTTP/1.1\r\nHost: ${address}\r\n\r\n`;
    this.hostLine = `Host: ${address}\r\n`;
    this.socket = null;
    // Callbacks for the replies still to come, in the order the requests went out.
    this.waiting = [];
    this.nextPending = false;
    // The reply being read: its head so far, then its status, headers and body.
    this.head = null;
    this.status = 0;
    this.headers = null;
    this.body = null;
    this.filled = 0;
  }

  /** True while the request for the next event is out (no invocation is running). */
  get awaitingEvent() {
    return this.nextPending;
  }

  /** Wait for the next event: ``onEvent(headers, body)``, the body a string. */
  next(onEvent) {
    this._send(this.nextRequest, [this._event(onEvent)]);
  }

  /** Answer invocation ``id`` with ``body`` (JSON text) and ask for the next event. */
  respondThenNext(id, body, onStatus, onEvent) {
    const post = this._post(`${BASE}/invocation/${encodeURIComponent(id)}/response`, body);
    this._send(post + this.nextRequest, [onStatus, this._event(onEvent)]);
  }

  /** Report invocation ``id`` failed (``response``: the error's shape) and ask again. */
  errorThenNext(id, response, onEvent) {
    const post = this._post(
      `${BASE}/invocation/${encodeURIComponent(id)}/error`,
      JSON.stringify(response),
      response.errorType,
    );
    this._send(post + this.nextRequest, [null, this._event(onEvent)]);
  }

  /** Report invocation ``id`` failed, and nothing more (the process is ending). */
  error(id, response, done) {
    const path = `${BASE}/invocation/${encodeURIComponent(id)}/error`;
    this._send(this._post(path, JSON.stringify(response), response.errorType), [done]);
  }

  /**
   * The head of a streamed response to invocation ``id``: chunked, its error (if any)
   * to come in the trailers. It goes out with the stream's first bytes (``streamWrite``).
   */
  streamHead(id, contentType) {
    return (
      `POST ${BASE}/invocation/${encodeURIComponent(id)}/response HTTP/1.1\r\n${this.hostLine}` +
      'Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n' +
      `Content-Type: ${HEADER_SAFE.test(contentType) ? contentType : 'application/octet-stream'}` +
      `\r\nTrailer: ${ERROR_TYPE}, ${ERROR_BODY}\r\n\r\n`
    );
  }

  /** Bytes of a streamed response; ``done`` once the socket has taken them. */
  streamWrite(data, done) {
    this._connect().write(data, done);
  }

  /**
   * The end of a streamed response (``error``: its failure, as trailers), sent after
   * ``prefix`` (the head, when nothing was written), then the request for the next event;
   * without ``onEvent``, nothing more (the process is ending) and ``onStatus`` is called
   * once the Runtime API has answered.
   */
  streamEnd(prefix, error, onStatus, onEvent) {
    let end = '0\r\n';
    if (error !== null) {
      const type = HEADER_SAFE.test(error.errorType) ? error.errorType : 'Runtime.Unknown';
      const body = Buffer.from(JSON.stringify(error)).toString('base64');
      end += `${ERROR_TYPE}: ${type}\r\n${ERROR_BODY}: ${body}\r\n`;
    }
    end += '\r\n';
    if (onEvent === undefined) {
      this._send(Buffer.concat([prefix, Buffer.from(end)]), [onStatus]);
    } else {
      const next = Buffer.from(end + this.nextRequest);
      this._send(Buffer.concat([prefix, next]), [onStatus, this._event(onEvent)]);
    }
  }

  initError(response, done) {
    const post = this._post(`${BASE}/init/error`, JSON.stringify(response), response.errorType);
    this._send(post, [done]);
  }

  _post(path, body, errorType) {
    let head =
      `POST ${path} HTTP/1.1\r\n${this.hostLine}Content-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    if (errorType !== undefined && HEADER_SAFE.test(errorType)) {
      head += `Lambda-Runtime-Function-Error-Type: ${errorType}\r\n`;
    }
    return head + '\r\n' + body;
  }

  _event(onEvent) {
    this.nextPending = true;
    return (status, headers, body) => {
      this.nextPending = false;
      if (status !== 200) {
        fatal(`invocation/next answered ${status}: ${body.toString().slice(0, 200)}`);
      }
      onEvent(headers, body.toString('utf8'));
    };
  }

  _connect() {
    if (this.socket === null) {
      this.socket = net.connect(this.port, this.host);
      this.socket.setNoDelay(true);
      this.socket.on('data', (chunk) => this._receive(chunk));
      this.socket.on('error', (error) => fatal(`the Runtime API failed: ${error.message}`));
      this.socket.on('end', () => fatal('the Runtime API closed the connection'));
    }
    return this.socket;
  }

  _send(data, callbacks) {
    const socket = this._connect();
    for (const callback of callbacks) {
      this.waiting.push(callback);
    }
    socket.ref();
    socket.write(data);
  }

  _receive(chunk) {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.headers === null) {
        const rest = chunk.subarray(offset);
        const head = this.head === null ? rest : Buffer.concat([this.head, rest]);
        const end = head.indexOf(HEAD_END);
        if (end === -1) {
          this.head = head;
          return;
        }
        // Where this chunk's part of the head ends.
        offset += end + 4 - (this.head === null ? 0 : this.head.length);
        this.head = null;
        this._parseHead(head.toString('latin1', 0, end));
        const length = Number(this.headers['content-length'] || 0);
        if (chunk.length - offset >= length) {
          this._complete(chunk.subarray(offset, offset + length));
          offset += length;
          continue;
        }
        this.body = Buffer.allocUnsafe(length);
        this.filled = 0;
      }
      const copied = chunk.copy(this.body, this.filled, offset);
      this.filled += copied;
      offset += copied;
      if (this.filled === this.body.length) {
        const body = this.body;
        this.body = null;
        this._complete(body);
      }
    }
  }

  _parseHead(head) {
    const lines = head.split('\r\n');
    this.status = Number(lines[0].split(' ', 2)[1]);
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
    }
    this.headers = headers;
  }

  _complete(body) {
    const { status, headers } = this;
    this.headers = null;
    const callback = this.waiting.shift();
    if (this.waiting.length === 0) {
      this.socket.unref();
    }
    if (callback) {
      callback(status, headers, body);
    }
  }
}

function fatal(reason) {
  // The Runtime API is gone (the sandbox is being torn down): nothing left to serve.
  process.stderr.write(`[ERROR] [${Date.now()}] LAMBDA_RUNTIME ${reason}\n`);
  process.exit(1);
}

module.exports = { RapidClient };
