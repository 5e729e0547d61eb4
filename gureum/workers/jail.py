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

``python -S jail.py --zygote FD [--preload BOOTSTRAP]`` runs the same steps as a fork
server (a "zygote", one per interpreter): an interpreter that has already started, with
the jail and gureum's Python runtime loaded, forks each sandbox instead of starting a
new process. Each child is forked straight into a new PID namespace as its PID 1, so it
is the init; children can also be forked ahead of need ("prepared") and join their
cgroups then, off the cold start's path (on cgroup v1 a join waits for an RCU grace
period, 10-20 ms). The server speaks to the zygote over a unix stream socket:
length-prefixed JSON frames (``frames.py``, beside this file), the sandbox's log pipe
passed as a file descriptor.
"""

import ctypes
import fcntl
import gc
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

# frames.py, imported as this script's sibling. No bytecode of it goes into gureum's
# installed package (pip's uninstall would leave it behind: it records only the
# installing Python's), and no module of that name stays in sys.modules, where it would
# hide a function's own module "frames" from the function.
sys.dont_write_bytecode, _writes_bytecode = True, sys.dont_write_bytecode
import frames  # noqa: E402

sys.dont_write_bytecode = _writes_bytecode
del sys.modules["frames"]

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


def mount_base(base):
    """Mount the part of the root every sandbox of a runtime shares, at base["root"].

    Private to this mount namespace: nothing mounted here reaches the host or another
    sandbox, even though every sandbox uses the same directory as its mount point.
    """
    root = base["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for source, target in base["links"]:
        os.symlink(source, root + target)
    for source, target in base["binds"]:
        bind_read_only(source, root + target)
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
    socket.sethostname(base["hostname"])


def finish_root(spec):
    """Add the function's code and its /tmp to the mounted base, and pivot into it."""
    root = spec["base"]["root"]
    for source, target in spec["binds"]:
        bind_read_only(source, root + target)
    os.makedirs(root + "/tmp", exist_ok=True)
    mount(
        "tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['tmp_mb']}m,mode=1777"
    )
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


#: gureum's Python runtime, imported once by a zygote so that its sandboxes share it.
PRELOADED_BOOTSTRAP = None


def runtime_path(pythonpath, path, base_prefix):
    """The ``sys.path`` of a runtime run in this interpreter: the sandbox's PYTHONPATH,
    then the interpreter's standard library; never ``path[0]``, this script's directory
    (the function's own modules, a ``frames`` say, must not be the jail's)."""
    stdlib = [p for p in path[1:] if p.startswith(base_prefix)]
    return [p for p in pythonpath.split(":") if p] + stdlib


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
        sys.path[:] = runtime_path(env.get("PYTHONPATH", ""), sys.path, sys.base_prefix)
        sys.argv = [spec["python_bootstrap"]]
        if PRELOADED_BOOTSTRAP is not None:
            PRELOADED_BOOTSTRAP.main()
        else:
            runpy.run_path(spec["python_bootstrap"], run_name="__main__")
        os._exit(0)
    os.execve(spec["argv"][0], spec["argv"], env)


def enter_base(base):
    """Unshare the mount, UTS and IPC namespaces and mount the root's shared part."""
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC), "unshare")
    mount_base(base)


def init(spec, report, base_mounted=False):
    """PID 1 of the sandbox: build the root, start the runtime, reap, report its end.

    ``report`` is called once with how the runtime ended (``b"exit 0"``, ``b"signal 9"``).
    ``base_mounted``: this process has entered its namespaces and mounted the base.
    """
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        if not base_mounted:
            enter_base(spec["base"])
        if spec.get("network") == "none":
            _check(libc.unshare(CLONE_NEWNET), "unshare network")
        finish_root(spec)
    except OSError as exc:
        os.write(2, f"gureum jail: cannot build the sandbox: {exc}\n".encode())
        report(b"exit %d" % SETUP_FAILED)
        os._exit(SETUP_FAILED)
    relay = None
    if spec.get("network") == "none":
        try:
            loopback_up()
            relay = Relay(spec["api_port"], spec["api_socket"])
        except OSError as exc:
            os.write(2, f"gureum jail: cannot set up the sandbox's network: {exc}\n".encode())
            report(b"exit %d" % SETUP_FAILED)
            os._exit(SETUP_FAILED)
    wakeup_read, wakeup_write = _child_wakeup()
    runtime = os.fork()
    if runtime == 0:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (wakeup_read, wakeup_write, *spec.get("close_fds", ())):
            os.close(fd)
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
    supervise(runtime, report, relay, wakeup_read)


def _child_wakeup():
    """A pipe SIGCHLD writes to (so that no child's end is missed), and its ends."""
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    return wakeup_read, wakeup_write


def supervise(runtime, report, relay, wakeup_read):
    """PID 1's life once the runtime runs: reap, relay, report how the runtime ended."""
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
        report(b"signal %d" % os.WTERMSIG(status))
    else:
        report(b"exit %d" % os.WEXITSTATUS(status))
    os._exit(0)  # init's end takes every leftover process of the namespace with it


def join_cgroups(procs):
    """Move this process into the sandbox's cgroups (``0`` names the writer itself)."""
    for path in procs:
        with open(path, "w") as handle:
            handle.write("0")


def main():
    """Exec mode: a new jail process per sandbox (the zygote's fallback)."""
    spec = json.loads(os.environ.pop("GUREUM_JAIL_SPEC"))
    join_cgroups(spec["cgroup_procs"])
    _check(libc.unshare(CLONE_NEWPID), "unshare")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        init(spec, lambda outcome: os.write(write_end, outcome))
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


# the zygote
def prestart_runtime(prestart, log_fd, root):
    """Fork the runtime (PID 2) ahead of its sandbox: as its unprivileged user, output
    on ``log_fd``, chrooted into the root's shared part (PID 1 mounts the function's
    code and /tmp there later, which it sees, then pivots; a chroot is not moved by the
    pivot, and it is the new root already). It loads itself and waits to be told its
    sandbox's environment on a pipe; returns (its pid, the pipe's write end, the
    wakeup pipe)."""
    spec_read, spec_write = os.pipe()
    wakeup = _child_wakeup()
    runtime = os.fork()
    if runtime == 0:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (spec_write, *wakeup):
            os.close(fd)
        null = os.open("/dev/null", os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.set_inheritable(spec_read, True)  # (os.pipe's ends are not, across exec)
        env = dict(prestart["env"], GUREUM_PRESTART_FD=str(spec_read))
        try:
            os.chroot(root)
            os.chdir("/")
            run_runtime(
                {
                    "uid": prestart["uid"],
                    "gid": prestart["uid"],
                    "cwd": "/",
                    "env": env,
                    "argv": prestart["argv"],
                }
            )
        except BaseException as exc:
            os.write(2, f"gureum jail: cannot start the runtime: {exc!r}\n".encode())
        os._exit(SETUP_FAILED)
    os.close(spec_read)
    return runtime, spec_write, wakeup


def _send_environment(spec_write, env):
    """Tell the pre-started runtime its sandbox's environment (and let it go)."""
    data = json.dumps({"env": env}).encode()
    try:
        os.write(spec_write, struct.pack("!I", len(data)) + data)
    except BrokenPipeError:
        pass  # it is gone already: its end is reaped and reported as any end is
    os.close(spec_write)


def _sandbox_child(channel, procs, base, prestart=None, log_fd=None):
    """A zygote's child, PID 1 of its own PID namespace: join, wait for a spec, be init.

    A prepared child (``base`` given) also enters its namespaces and mounts the root's
    shared part before it says it has joined; with ``prestart`` it also starts its
    runtime then (see ``prestart_runtime``), which waits for the spec's environment.
    """
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # Nothing of the zygote's (its control socket above all) may reach the sandbox.
    keep = channel.fileno()
    kept = sorted({keep} | ({log_fd} if log_fd is not None else set()))
    start = 3
    for fd in kept:
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 65536)
    os.setsid()
    started = None
    try:
        join_cgroups(procs)
        if base is not None:
            enter_base(base)
        if prestart is not None:
            for source, target in prestart["binds"]:
                bind_read_only(source, base["root"] + target)
            started = prestart_runtime(prestart, log_fd, base["root"])
    except OSError as exc:
        channel.send(f"joined {exc}".encode())
        os._exit(SETUP_FAILED)
    channel.send(b"joined")
    if started is not None:
        _wait_for_spec(channel, started)
    try:
        data, fds, _, _ = socket.recv_fds(channel, 1 << 22, 4)
    except OSError:
        os._exit(SETUP_FAILED)
    if not data:
        os._exit(0)  # the prepared child is not wanted any more
    spec = json.loads(data)
    if started is not None:
        _run_prestarted(spec, started, channel, log_fd)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[0], 2)
    for fd in (null, *fds):
        os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    spec["close_fds"] = [keep]
    init(spec, channel.send, base_mounted=base is not None)


def _wait_for_spec(channel, started):
    """Wait for the spec while the started runtime waits for its environment; if the
    runtime ends first (killed, out of memory), end too: the server starts another,
    and no sandbox gets one that is gone."""
    runtime, _, (wakeup_read, _) = started
    with selectors.DefaultSelector() as selector:
        selector.register(channel, selectors.EVENT_READ)
        selector.register(wakeup_read, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is channel:
                    return
                os.read(wakeup_read, 4096)
                pid, _ = os.waitpid(runtime, os.WNOHANG)
                if pid == runtime:
                    os._exit(SETUP_FAILED)


def _run_prestarted(spec, started, channel, log_fd):
    """PID 1 of a sandbox whose runtime runs already: finish the root (the runtime moves
    into it with the pivot), tell the runtime its environment, then be init."""
    runtime, spec_write, (wakeup_read, wakeup_write) = started
    os.dup2(log_fd, 2)  # what the jail says goes to the sandbox's log
    os.close(log_fd)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        finish_root(spec)
    except OSError as exc:
        os.write(2, f"gureum jail: cannot build the sandbox: {exc}\n".encode())
        channel.send(b"exit %d" % SETUP_FAILED)
        os._exit(SETUP_FAILED)
    _send_environment(spec_write, spec["env"])
    supervise(runtime, channel.send, None, wakeup_read)


class ForkServer:
    """A zygote's fork server: forks sandboxes on the server's request and reports how
    each one ended (its server-side counterpart is ``zygote.Zygote``)."""

    def __init__(self, control):
        self.control = control
        self.buffer = bytearray()
        self.fds = []
        self.selector = selectors.DefaultSelector()
        self.children = {}  # pid -> [channel, outcome or None, waiting request id]
        self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY)

    def fork(self, procs, base=None, prestart=None, log_fd=None):
        """Fork a child into a new PID namespace (it is that namespace's PID 1)."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        _check(libc.unshare(CLONE_NEWPID), "unshare")
        try:
            pid = os.fork()
        finally:
            if os.getpid() != 1:
                # Back to our own namespace for the next child.
                _check(libc.setns(self.own_pid_ns, CLONE_NEWPID), "setns")
        if pid == 0:
            try:
                mine.close()
                _sandbox_child(theirs, procs, base, prestart, log_fd)
            except BaseException as exc:
                os.write(2, f"gureum zygote: sandbox failed: {exc!r}\n".encode())
            os._exit(SETUP_FAILED)
        theirs.close()
        if log_fd is not None:
            os.close(log_fd)
        self.children[pid] = [mine, None, None]
        self.selector.register(mine, selectors.EVENT_READ, pid)
        return pid

    def handle(self, message):
        op = message.get("op")
        fds = []
        try:
            if op == "prepare":
                prestart = message.get("prestart")
                log_fd = self.fds.pop(0) if prestart is not None else None
                pid = self.fork(message["procs"], message["base"], prestart, log_fd)
                self.children[pid][2] = message["id"]  # answered once it has joined
            elif op == "spawn":
                if not message.get("prestarted"):
                    fds.append(self.fds.pop(0))  # the sandbox's log pipe came with it
                pid = message.get("pid")
                if pid not in self.children:
                    pid = self.fork(message["spec"]["cgroup_procs"])
                spec = json.dumps(message["spec"]).encode()
                socket.send_fds(self.children[pid][0], [spec], fds)
                frames.send(self.control, {"op": "spawned", "id": message["id"], "pid": pid})
            else:
                raise ValueError(f"unknown operation {op!r}")
        except Exception as exc:
            frames.send(self.control, {"op": "failed", "id": message.get("id"), "error": repr(exc)})
        finally:
            for fd in fds:
                os.close(fd)

    def read_control(self):
        """Read what the server sent: frames, and the descriptors that came with them.

        A descriptor travels with the first byte of its frame, so the queue of received
        descriptors is in the order of the frames that carry them.
        """
        try:
            data, fds, _, _ = socket.recv_fds(self.control, 1 << 20, 16, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            os._exit(0)  # the server is gone
        self.fds.extend(fds)
        self.buffer += data
        while True:
            message = frames.take(self.buffer)
            if message is None:
                break
            self.handle(message)

    def child_message(self, pid):
        entry = self.children.get(pid)
        if entry is None:
            return
        try:
            data = entry[0].recv(256, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(entry[0])
            return
        if data.startswith(b"joined"):
            request, entry[2] = entry[2], None
            if request is not None:
                error = data[7:].decode()
                reply = {"op": "prepared", "id": request, "pid": pid}
                if error:
                    reply = {"op": "failed", "id": request, "error": error}
                frames.send(self.control, reply)
        else:
            entry[1] = data.decode()

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            entry = self.children.pop(pid, None)
            if entry is None:
                continue
            channel, outcome, request = entry
            while outcome is None:  # the child may have reported just before it ended
                try:
                    data = channel.recv(256, socket.MSG_DONTWAIT)
                except OSError:
                    break
                if not data:
                    break
                if not data.startswith(b"joined"):
                    outcome = data.decode()
            try:
                self.selector.unregister(channel)
            except (KeyError, ValueError):
                pass
            channel.close()
            if outcome is None:
                if os.WIFSIGNALED(status):
                    outcome = f"signal {os.WTERMSIG(status)}"
                else:
                    outcome = f"exit {os.WEXITSTATUS(status)}"
            if request is not None:
                frames.send(self.control, {"op": "failed", "id": request, "error": outcome})
            kind, _, value = outcome.partition(" ")
            frames.send(self.control, {"op": "exit", "pid": pid, "kind": kind, "value": int(value)})

    def serve(self):
        wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_read, False)
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector.register(self.control, selectors.EVENT_READ, "control")
        self.selector.register(wakeup_read, selectors.EVENT_READ, "wakeup")
        while True:
            for key, _ in self.selector.select():
                if key.data == "control":
                    self.read_control()
                elif key.data == "wakeup":
                    try:
                        os.read(wakeup_read, 4096)
                    except BlockingIOError:
                        pass
                    self.reap()
                else:
                    self.child_message(key.data)


# snapshot mode
CLONE_NEWUSER = 0x10000000
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def snapshot_serve(socket_path):
    """The template of a snapshot: fork one restored sandbox per request.

    Runs in the runtime after the function's init (as the sandbox's user, without
    privilege). Returns only in a restored sandbox: PID 1 of a PID namespace of its own,
    with its own /tmp, in its own cgroup (the server moves it there before it goes on),
    its environment and log replaced. The template never returns.
    """
    control = _connect(socket_path)
    frames.send(control, {"op": "ready"})
    buffer = bytearray()
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        try:
            message, fds = frames.receive(control, buffer)
        except InterruptedError:
            continue
        except ConnectionError:
            os._exit(0)  # the server let the snapshot go
        while True:  # reap restored sandboxes that ended (they report for themselves)
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        for fd in fds:
            os.close(fd)
        if message.get("op") != "fork":
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            control.close()
            try:
                _restored(socket_path, message["id"])
                return
            except BaseException as exc:
                os.write(2, f"gureum snapshot: restore failed: {exc!r}\n".encode())
                os._exit(SETUP_FAILED)


def _restored(socket_path, request):
    """In the forked child: get a cgroup, namespaces, /tmp and a log of its own.

    The server moves it into its cgroup once it has said who it is (it reads the pid
    from the connection), then, perhaps much later (a child forked ahead of need),
    sends the sandbox's environment and log.
    """
    os.setsid()
    channel = _connect(socket_path)
    frames.send(channel, {"op": "forked", "id": request})
    message, fds = frames.receive(channel, bytearray())
    if message.get("op") != "go" or not fds:
        os._exit(SETUP_FAILED)
    log_fd = fds[0]
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID), "unshare")
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={message['tmp_mb']}m,mode=1777")
    runtime = os.fork()
    if runtime:
        # Stay as the restored sandbox's anchor: report how its runtime ended.
        os.close(log_fd)
        _, status = os.waitpid(runtime, 0)
        if os.WIFSIGNALED(status):
            outcome = {"op": "exit", "kind": "signal", "value": os.WTERMSIG(status)}
        else:
            outcome = {"op": "exit", "kind": "exit", "value": os.WEXITSTATUS(status)}
        try:
            frames.send(channel, outcome)
        except OSError:
            pass
        os._exit(0)
    channel.close()
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    _check(libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")  # no privilege left
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(null)
    os.close(log_fd)
    os.environ.clear()
    os.environ.update(message["env"])


def zygote(control_fd, preload):
    """Load what every sandbox needs once, then fork sandboxes until the server goes."""
    global PRELOADED_BOOTSTRAP
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if preload:
        # Under a private name: a function may have a module called "bootstrap".
        import importlib.util

        spec = importlib.util.spec_from_file_location("_gureum_bootstrap", preload)
        PRELOADED_BOOTSTRAP = importlib.util.module_from_spec(spec)
        # No bytecode into gureum's installed package: pip's uninstall would leave it
        # behind (it records only the installing Python's), breaking the next install.
        sys.dont_write_bytecode = True
        spec.loader.exec_module(PRELOADED_BOOTSTRAP)
        sys.dont_write_bytecode = False
        PRELOADED_BOOTSTRAP.SNAPSHOT = snapshot_serve
    # What runtimes and handlers commonly import, loaded once here and shared.
    for module in (
        "encodings.idna",
        "traceback",
        "importlib.util",
        "decimal",
        "datetime",
        "uuid",
        "logging",
        "urllib.parse",
        "base64",
        "hashlib",
    ):
        try:
            __import__(module)
        except ImportError:
            pass
    # Blocking: a reply waits for room in the server's buffer (which it always reads)
    # rather than being lost; reads are MSG_DONTWAIT, after the selector says so.
    control = socket.socket(fileno=control_fd)
    control.setblocking(True)
    gc.collect()
    gc.freeze()  # what the zygote holds stays shared with its children
    ForkServer(control).serve()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]), sys.argv[4] if sys.argv[3:4] == ["--preload"] else None)
    else:
        main()
