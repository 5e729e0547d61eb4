"""Where a sandbox's runtime and its function look for code, as Lambda sets it: the
function's own code first, then its layers under ``/opt``.

Pure functions of where things are: inside an isolated sandbox the task is
``/var/task``, the layers ``/opt`` and the runtime ``/var/runtime``; without isolation
(rlimits) they are the host's directories, and the same paths are built from those.
Lambda's layer paths: ``python`` and ``python/lib/pythonX.Y/site-packages`` for Python,
``nodejs/node_modules`` and ``nodejs/nodeNN/node_modules`` for Node.js, ``bin`` on
``PATH`` and ``lib`` on ``LD_LIBRARY_PATH`` for every runtime.
"""

from __future__ import annotations

import platform

#: The directories of a sandbox's ``PATH`` before its layers' ``bin``.
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
#: The directories of ``LD_LIBRARY_PATH`` before the function's and its layers' ``lib``:
#: the system's libraries first, as on Lambda (whose are in ``/lib64``; a Debian host's
#: are in its multiarch directories, which the loader would otherwise search last).
SYSTEM_LIBRARIES = ":".join(
    ["/lib64", "/usr/lib64", *(f"{d}/{platform.machine()}-linux-gnu" for d in ("/lib", "/usr/lib"))]
)


def python_path(runtime: str, *, task: str, opt: str) -> list[str]:
    """A Python function's import path: its code, then its layers' packages."""
    version = runtime.removeprefix("python")
    return [task, f"{opt}/python/lib/python{version}/site-packages", f"{opt}/python"]


def node_path(runtime: str, *, task: str, opt: str, runtime_dir: str) -> str:
    """A Node.js function's ``NODE_PATH``: its layers' modules (those for its major
    version first), the runtime's, then its code."""
    major = runtime.removeprefix("nodejs").partition(".")[0]
    return ":".join(
        [
            f"{opt}/nodejs/node{major}/node_modules",
            f"{opt}/nodejs/node_modules",
            f"{runtime_dir}/node_modules",
            runtime_dir,
            task,
        ]
    )


def layer_environment(runtime: str, *, task: str, opt: str, runtime_dir: str) -> dict[str, str]:
    """The environment entries through which a function finds its layers (and its own
    native code): ``PATH``, ``LD_LIBRARY_PATH`` and, for Node.js, ``NODE_PATH``."""
    environ = {
        "PATH": f"{SYSTEM_PATH}:{opt}/bin",
        "LD_LIBRARY_PATH": f"{SYSTEM_LIBRARIES}:{task}:{task}/lib:{opt}/lib",
    }
    if runtime.startswith("nodejs"):
        environ["NODE_PATH"] = node_path(runtime, task=task, opt=opt, runtime_dir=runtime_dir)
    return environ
