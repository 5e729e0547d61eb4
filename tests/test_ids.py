"""Request and message ids: UUID version 4 text, unique, and not repeated by a fork."""

from __future__ import annotations

import os
import re
import uuid

from gureum.ids import new_uuid

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_ids_are_version_4_uuids_and_unique() -> None:
    ids = [new_uuid() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:1000]:
        assert UUID4.match(text), text
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.write(write, " ".join(new_uuid() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    parents = {new_uuid() for _ in range(10)}
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        childs = set(pipe.read().split())
    assert len(childs) == 10 and not parents & childs
