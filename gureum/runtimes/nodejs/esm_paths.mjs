/**
 * A resolve hook for ES modules: a bare specifier that Node's ES module resolution does
 * not find (it reads no NODE_PATH) is looked up in NODE_PATH's directories, as
 * ``require`` finds it. So ``import ... from '@aws-sdk/client-lambda'`` in an ``.mjs``
 * handler finds the SDK at /var/runtime/node_modules, and a layer's package in
 * /opt/nodejs/node_modules, as on Lambda. Registered only for ES module handlers.
 */

import { pathToFileURL } from 'node:url';

let directories = [];

export async function initialize(data) {
  directories = (data && data.directories) || [];
}

function bare(specifier) {
  return !/^(?:[./]|[a-z][a-z0-9+.-]*:)/i.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!error || error.code !== 'ERR_MODULE_NOT_FOUND' || !bare(specifier)) {
      throw error;
    }
    for (const directory of directories) {
      // From a file in the directory, Node looks in the directory itself when it is a
      // node_modules, and in its node_modules when it is not.
      const parentURL = pathToFileURL(`${directory}/noop.mjs`).href;
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch {
        // not there: the next directory
      }
    }
    throw error;
  }
}
