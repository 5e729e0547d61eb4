/**
 * Loading the function's handler from a handler string such as ``app.handler``,
 * ``src/api/app.handler`` or ``app.routes.get`` (a nested export), as Lambda's
 * Node.js runtime resolves it.
 *
 * The module is looked for next to the task root in Lambda's order: the file as
 * named, ``.js`` (required unless the nearest package.json says ``"type":
 * "module"``, then imported), ``.mjs`` (imported, so top-level ``await`` works),
 * ``.cjs`` (required), and finally Node's own resolution from the task root (a
 * directory with an index.js, a package). Failures carry Lambda's error types.
 */

'use strict';

const fs = require('fs');
const path = require('path');
const {
  HandlerNotFound,
  ImportModuleError,
  MalformedHandlerName,
  UserCodeSyntaxError,
} = require('./errors.cjs');

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;

/** The roots a handler's module may live under: the task root and layers (``/opt``). */
function allowedRoot(file, roots) {
  return roots.some((root) => file === root || file.startsWith(root.endsWith('/') ? root : root + '/'));
}

function parseHandler(appRoot, fullHandler, layerRoot) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying ` +
        'root directories in handler names.',
    );
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = FUNCTION_EXPR.exec(handlerString);
  if (match === null) {
    throw new MalformedHandlerName('Bad handler');
  }
  const file = path.resolve(appRoot, moduleRoot, match[1]);
  // An absolute handler path is how layers' wrappers name their handler
  // (/opt/nodejs/...); anywhere else it would load code from outside the function.
  if (!allowedRoot(file, [path.resolve(appRoot), layerRoot])) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name: the module must be under the task ` +
        `root (${appRoot}) or ${layerRoot}.`,
    );
  }
  return { moduleRoot, module: match[1], handlerPath: match[2], file };
}

function hasTypeModule(folder) {
  // The nearest package.json decides, as Node decides for .js files; node_modules and
  // the file system's root end the search.
  for (;;) {
    if (folder.endsWith('/node_modules')) {
      return false;
    }
    const manifest = path.join(folder, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        const parsed = JSON.parse(fs.readFileSync(manifest, 'utf8'));
        if (parsed) {
          return parsed.type === 'module';
        }
      } catch (error) {
        console.warn(
          `${manifest} cannot be read, it will be ignored for ES module detection purposes.`,
          error,
        );
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder) {
      return false;
    }
    folder = parent;
  }
}

function requireIfExists(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

let esmPathsRegistered = false;

/** Let ES modules find packages in NODE_PATH's directories too (see esm_paths.mjs). */
function registerEsmPaths() {
  esmPathsRegistered = true;
  const Module = require('module');
  const directories = (process.env.NODE_PATH || '').split(':').filter(Boolean);
  if (typeof Module.register !== 'function' || directories.length === 0) {
    return; // Node.js before 18.19 and 20.6 has no module.register
  }
  const { pathToFileURL } = require('url');
  // (from the runtime's directory as the sandbox sees it: a runtime started ahead of
  // its sandbox was loaded from the host's path, which the sandbox's root does not have)
  const runtimeDir = process.env.LAMBDA_RUNTIME_DIR || __dirname;
  Module.register(pathToFileURL(path.join(runtimeDir, 'esm_paths.mjs')).href, {
    data: { directories },
  });
}

async function importIfExists(file) {
  if (!fs.existsSync(file)) {
    return undefined;
  }
  if (!esmPathsRegistered) {
    registerEsmPaths();
  }
  const { pathToFileURL } = require('url');
  return import(pathToFileURL(file).href);
}

async function loadModule(appRoot, moduleRoot, module, file) {
  const asNamed = requireIfExists(file);
  if (asNamed) {
    return asNamed;
  }
  const typeModule = hasTypeModule(path.dirname(file));
  if (!typeModule) {
    const cjs = requireIfExists(file + '.js');
    if (cjs) {
      return cjs;
    }
  }
  const loaded =
    (typeModule && (await importIfExists(file + '.js'))) ||
    (await importIfExists(file + '.mjs')) ||
    requireIfExists(file + '.cjs');
  if (loaded) {
    return loaded;
  }
  return require(require.resolve(module, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] }));
}

function findIn(object, handlerPath) {
  return handlerPath.split('.').reduce((nested, key) => nested && nested[key], object);
}

/**
 * The handler function named by ``fullHandler``; throws Lambda's ``Runtime.*`` errors.
 *
 * ``defaultExport``: also look under the module's default export (Node.js 24's runtime
 * does; earlier ones do not).
 */
async function load(appRoot, fullHandler, { layerRoot = '/opt', defaultExport = false } = {}) {
  const { moduleRoot, module, handlerPath, file } = parseHandler(appRoot, fullHandler, layerRoot);
  let userApp;
  try {
    userApp = await loadModule(appRoot, moduleRoot, module, file);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new UserCodeSyntaxError(error);
    }
    if (error && error.code === 'MODULE_NOT_FOUND') {
      throw new ImportModuleError(error);
    }
    throw error;
  }
  let handler = findIn(userApp, handlerPath);
  if (!handler && defaultExport && userApp && typeof userApp === 'object' && 'default' in userApp) {
    handler = findIn(userApp.default, handlerPath);
  }
  if (!handler) {
    throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new HandlerNotFound(`${fullHandler} is not a function`);
  }
  return handler;
}

module.exports = { load };
