/**
 * Every name under ``localhost`` is the loopback address (RFC 6761), as browsers have it;
 * glibc resolves only ``localhost`` itself (from /etc/hosts). gureum's HTTPS edge is
 * reached at such names (``API.execute-api.localhost:PORT``, API Gateway's
 * ``domainName``), so ``dns.lookup`` and ``dns.promises.lookup``, which ``net``,
 * ``http`` and ``https`` call, answer them with 127.0.0.1 (``::1`` when IPv6 alone is
 * asked for); every other name goes to the system's resolver as before.
 */

'use strict';

const LOCALHOST = /\.localhost\.?$/i;

function loopback(options) {
  const family = typeof options === 'number' ? options : (options && options.family) || 0;
  const six = family === 6 || family === 'IPv6';
  return {
    address: six ? '::1' : '127.0.0.1',
    family: six ? 6 : 4,
    all: Boolean(options && typeof options === 'object' && options.all),
  };
}

function resolveLocalhostNames() {
  const dns = require('dns');
  const lookup = dns.lookup;
  dns.lookup = function lookupLocalhost(hostname, options, callback) {
    if (typeof hostname !== 'string' || !LOCALHOST.test(hostname)) {
      return lookup.apply(this, arguments);
    }
    const done = typeof options === 'function' ? options : callback;
    const { address, family, all } = loopback(typeof options === 'function' ? {} : options);
    process.nextTick(() => (all ? done(null, [{ address, family }]) : done(null, address, family)));
    return {};
  };
  const promises = dns.promises;
  const promisesLookup = promises.lookup;
  promises.lookup = async function lookupLocalhost(hostname, options) {
    if (typeof hostname !== 'string' || !LOCALHOST.test(hostname)) {
      return promisesLookup.call(this, hostname, options);
    }
    const { address, family, all } = loopback(options);
    return all ? [{ address, family }] : { address, family };
  };
}

module.exports = { resolveLocalhostNames };
