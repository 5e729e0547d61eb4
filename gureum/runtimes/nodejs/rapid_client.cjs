/**
 * A client of the Lambda Runtime API (2018-06-01) over one keep-alive connection.
 *
 * ``http`` with a keep-alive agent of one socket: the agent unrefs the socket while it
 * is idle, so the connection never keeps the event loop alive by itself and
 * ``beforeExit`` still tells when the function's own work is done (what
 * ``callbackWaitsForEmptyEventLoop`` waits for). A request for the next event holds
 * the loop open while it waits, as it must. Request options are built once: a warm
 * invoke allocates only the requests themselves.
 */

'use strict';

const http = require('http');

const BASE = '/2018-06-01/runtime';
// A header value must be visible ASCII (a custom error name may be anything).
const HEADER_SAFE = /^[\x21-\x7e][\x20-\x7e]*$/;

class RapidClient {
  constructor(address) {
    const colon = address.lastIndexOf(':');
    this.host = address.slice(0, colon);
    this.port = Number(address.slice(colon + 1));
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.nextOptions = {
      host: this.host,
      port: this.port,
      path: `${BASE}/invocation/next`,
      method: 'GET',
      agent: this.agent,
    };
  }

  /** Wait for the next event: ``onEvent(headers, body)``, the body a string. */
  next(onEvent) {
    const request = http.request(this.nextOptions, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        if (response.statusCode !== 200) {
          fatal(`invocation/next answered ${response.statusCode}`);
        }
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        onEvent(response.headers, body.toString('utf8'));
      });
    });
    request.on('error', fatal);
    request.end();
  }

  /** POST ``body`` (a string) to ``path``; ``done(status, answer)`` once answered. */
  post(path, body, errorType, done) {
    const headers = {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
    };
    if (errorType !== undefined && HEADER_SAFE.test(errorType)) {
      headers['Lambda-Runtime-Function-Error-Type'] = errorType;
    }
    const request = http.request(
      { host: this.host, port: this.port, path, method: 'POST', headers, agent: this.agent },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => done(response.statusCode, Buffer.concat(chunks).toString()));
      },
    );
    request.on('error', fatal);
    request.end(body);
  }

  respond(id, body, done) {
    this.post(`${BASE}/invocation/${encodeURIComponent(id)}/response`, body, undefined, done);
  }

  error(id, response, done) {
    this.post(
      `${BASE}/invocation/${encodeURIComponent(id)}/error`,
      JSON.stringify(response),
      response.errorType,
      done,
    );
  }

  initError(response, done) {
    this.post(`${BASE}/init/error`, JSON.stringify(response), response.errorType, done);
  }
}

function fatal(reason) {
  // The Runtime API is gone (the sandbox is being torn down): nothing left to serve.
  process.stderr.write(`[ERROR] [${Date.now()}] LAMBDA_RUNTIME ${reason}\n`);
  process.exit(1);
}

module.exports = { RapidClient };
