"""The sandbox jail: the first process of an isolated sandbox (standard library only).

Run as root by the server (``python -S jail.py``, the spec in ``GUREUM_JAIL_SPEC``), it

1. joins the sandbox's cgroups (so everything it starts is limited from the start),
2. unshares mount, PID, IPC and UTS namespaces,
3. forks the namespace's init (PID 1), which builds a new root on a tmpfs: the host's
   ``/usr`` and ``/etc`` and the interpreter read-only, the function's code read-only at
   ``/var/task``, the runtime at ``/var/runtime``, a private ``/tmp`` sized to the
   function's ephemeral storage, a fresh ``/proc``; then ``pivot_root``s into it,
   For a function without a network it also unshares the network namespace, brings up
   its loopback and relays the Runtime API's port on it to the server's unix socket,
4. forks the runtime (PID 2), which drops to the sandbox's unprivileged uid with
   ``no_new_privs`` and runs gureum's Python runtime in-process or execs ``bootstrap``.

When the runtime ends, init reports how (exit status or signal) and exits, which kills
whatever the function left running in the namespace; the jail then ends the same way
the runtime did, so the server sees the runtime's real exit status or signal.
"""

import ctypes
import fcntl
import json
import os
import platform
import resource
import runpy
import selectors
import signal
import socket
import struct
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
#: Exit status of a jail that could not build the sandbox.
SETUP_FAILED = 125

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _b(value):
    return value.encode() if value is not None else None


def mount(source, target, fstype, flags, data=None):
    _check(libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def bind_read_only(source, target):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    mount(source, target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)


def build_root(spec):
    """Mount the sandbox's filesystem at spec["root"] and pivot into it."""
    root = spec["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount reaches the host
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for source, target in spec["links"]:
        os.symlink(source, root + target)
    for source, target in spec["binds"]:
        bind_read_only(source, root + target)
    os.makedirs(root + "/tmp", exist_ok=True)
    mount(
        "tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['tmp_mb']}m,mode=1777"
    )
    os.makedirs(root + "/dev", exist_ok=True)
    mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755")
    for device in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + device):
            open(root + "/dev/" + device, "w").close()
            mount("/dev/" + device, root + "/dev/" + device, None, MS_BIND)
    os.makedirs(root + "/dev/shm", exist_ok=True)
    mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{root}/dev/{name}")
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/.oldroot", exist_ok=True)
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(0, f"pivot_root: unknown architecture {platform.machine()}")
    _check(libc.syscall(number, _b(root), _b(root + "/.oldroot")), "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/.oldroot", MNT_DETACH), "umount old root")
    os.rmdir("/.oldroot")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def loopback_up():
    """Bring up ``lo`` in a new network namespace (it starts down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


class Relay:
    """Relays the runtime's loopback connections to the Runtime API's unix socket.

    A sandbox without a network has its own loopback; its init listens there on the
    Runtime API's port and carries each connection to the server through a unix socket.
    """

    def __init__(self, port, unix_path):
        self.unix_path = unix_path
        self.selector = selectors.DefaultSelector()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(16)
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.peers = {}

    def serve(self, wakeup):
        """Relay until ``wakeup`` (a fd written to on SIGCHLD) is readable."""
        self.selector.register(wakeup, selectors.EVENT_READ, "wakeup")
        while True:
            for key, _ in self.selector.select():
                if key.data == "wakeup":
                    return
                if key.data is None:
                    self._accept()
                else:
                    self._pump(key.fileobj, key.data)

    def _accept(self):
        inner, _ = self.listener.accept()
        outer = socket.socket(socket.AF_UNIX)
        try:
            outer.connect(self.unix_path)
        except OSError:
            inner.close()
            outer.close()
            return
        for sock, peer in ((inner, outer), (outer, inner)):
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, peer)

    def _pump(self, source, destination):
        try:
            data = source.recv(262144)
        except OSError:
            data = b""
        if data:
            try:
                destination.setblocking(True)
                destination.sendall(data)
                destination.setblocking(False)
                return
            except OSError:
                pass
        for sock in (source, destination):
            try:
                self.selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()


def run_runtime(spec):
    """PID 2: become the unprivileged sandbox user and run the runtime."""
    os.setgroups([])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # setuid made the process non-dumpable, which hands its /proc/self to root; it holds
    # no privilege any more, so let it read its own /proc entries (fds, environ) again.
    _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    os.chdir(spec["cwd"])
    env = spec["env"]
    if spec.get("python_bootstrap"):
        # gureum's Python runtime runs in this interpreter: no second start-up.
        os.environ.clear()
        os.environ.update(env)
        stdlib = [p for p in sys.path[1:] if p.startswith(sys.base_prefix)]
        sys.path[:] = [p for p in env.get("PYTHONPATH", "").split(":") if p] + stdlib
        sys.argv = [spec["python_bootstrap"]]
        runpy.run_path(spec["python_bootstrap"], run_name="__main__")
        os._exit(0)
    os.execve(spec["argv"][0], spec["argv"], env)


def init(spec, report):
    """PID 1 of the sandbox: build the root, start the runtime, reap, report its end."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        build_root(spec)
        socket.sethostname(spec["hostname"])
    except OSError as exc:
        os.write(2, f"gureum jail: cannot build the sandbox: {exc}\n".encode())
        os.write(report, b"exit %d" % SETUP_FAILED)
        os._exit(SETUP_FAILED)
    relay = None
    if spec.get("network") == "none":
        try:
            loopback_up()
            relay = Relay(spec["api_port"], spec["api_socket"])
        except OSError as exc:
            os.write(2, f"gureum jail: cannot set up the sandbox's network: {exc}\n".encode())
            os.write(report, b"exit %d" % SETUP_FAILED)
            os._exit(SETUP_FAILED)
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    runtime = os.fork()
    if runtime == 0:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.close(report)
        if relay is not None:
            relay.listener.close()
        try:
            run_runtime(spec)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        except BaseException as exc:
            os.write(2, f"gureum jail: cannot start the runtime: {exc!r}\n".encode())
            os._exit(SETUP_FAILED)
    while True:
        if relay is not None:
            relay.serve(wakeup_read)  # returns when a child has ended
            os.read(wakeup_read, 4096)
        try:
            pid, status = os.waitpid(-1, 0 if relay is None else os.WNOHANG)
        except ChildProcessError:
            os._exit(SETUP_FAILED)
        if pid == runtime:
            break
        if relay is not None:
            # reap the rest of what ended (a function's own children) and keep relaying
            while pid:
                try:
                    pid, status_other = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == runtime:
                    status = status_other
                    break
            if pid == runtime:
                break
    if os.WIFSIGNALED(status):
        os.write(report, b"signal %d" % os.WTERMSIG(status))
    else:
        os.write(report, b"exit %d" % os.WEXITSTATUS(status))
    os._exit(0)  # init's end takes every leftover process of the namespace with it


def main():
    spec = json.loads(os.environ.pop("GUREUM_JAIL_SPEC"))
    for procs in spec["cgroup_procs"]:
        with open(procs, "w") as handle:
            handle.write(str(os.getpid()))
    flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID
    if spec.get("network") == "none":
        flags |= CLONE_NEWNET
    _check(libc.unshare(flags), "unshare")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        init(spec, write_end)
    os.close(write_end)
    outcome = b""
    while True:
        chunk = os.read(read_end, 64)
        if not chunk:
            break
        outcome += chunk
    os.waitpid(child, 0)
    kind, _, value = outcome.decode().partition(" ")
    if kind == "signal":
        number = int(value)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if number not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    os._exit(int(value) if kind == "exit" else SETUP_FAILED)


if __name__ == "__main__":
    main()
