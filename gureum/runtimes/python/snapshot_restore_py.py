"""SnapStart's runtime hooks for Python, as AWS's runtime offers them (stdlib only).

``from snapshot_restore_py import register_before_snapshot, register_after_restore``,
as decorators or as ``register_before_snapshot(func, *args, **kwargs)``. Hooks run
before the snapshot in the reverse order of registration, and after each restore in
the order of registration, as on Lambda.
"""

_before_snapshot = []
_after_restore = []


def register_before_snapshot(func, *args, **kwargs):
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot():
    return list(reversed(_before_snapshot))


def get_after_restore():
    return list(_after_restore)
