"""Lambda's paths for a function and its layers, as a sandbox's environment sets them."""

from __future__ import annotations

from gureum.runtimes.paths import layer_environment, node_path, python_path
from gureum.workers.sandbox_process import sandbox_pythonpath


def test_node_path_is_lambdas() -> None:
    assert node_path("nodejs20.x", task="/var/task", opt="/opt", runtime_dir="/var/runtime") == (
        "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:"
        "/var/runtime:/var/task"
    )
    environ = layer_environment(
        "nodejs24.x", task="/var/task", opt="/opt", runtime_dir="/var/runtime"
    )
    assert environ["NODE_PATH"].startswith("/opt/nodejs/node24/node_modules:")


def test_without_isolation_the_paths_name_the_hosts_directories() -> None:
    environ = layer_environment(
        "nodejs22.x", task="/data/code/tasks/t", opt="/data/code/opt/o", runtime_dir="/rt"
    )
    assert environ["NODE_PATH"] == (
        "/data/code/opt/o/nodejs/node22/node_modules:/data/code/opt/o/nodejs/node_modules:"
        "/rt/node_modules:/rt:/data/code/tasks/t"
    )
    assert environ["PATH"] == "/usr/local/bin:/usr/bin:/bin:/data/code/opt/o/bin"
    assert environ["LD_LIBRARY_PATH"].endswith(
        ":/data/code/tasks/t:/data/code/tasks/t/lib:/data/code/opt/o/lib"
    )


def test_every_runtime_gets_bin_and_lib_only_node_gets_node_path() -> None:
    for runtime in ("python3.12", "provided.al2023"):
        environ = layer_environment(runtime, task="/var/task", opt="/opt", runtime_dir="/r")
        assert set(environ) == {"PATH", "LD_LIBRARY_PATH"}
        assert environ["PATH"].endswith(":/opt/bin")
        assert environ["LD_LIBRARY_PATH"].endswith(":/opt/lib")


def test_python_paths() -> None:
    assert python_path("python3.13", task="/var/task", opt="/opt") == [
        "/var/task",
        "/opt/python/lib/python3.13/site-packages",
        "/opt/python",
    ]
    assert sandbox_pythonpath("python3.9") == (
        "/var/task:/opt/python/lib/python3.9/site-packages:/opt/python:/var/runtime"
    )


def test_the_systems_libraries_come_before_the_functions() -> None:
    environ = layer_environment("python3.12", task="/var/task", opt="/opt", runtime_dir="/r")
    paths = environ["LD_LIBRARY_PATH"].split(":")
    assert paths[:2] == ["/lib64", "/usr/lib64"]
    system = [i for i, p in enumerate(paths) if p.endswith("-linux-gnu")]
    assert system and max(system) < paths.index("/var/task") < paths.index("/opt/lib")
