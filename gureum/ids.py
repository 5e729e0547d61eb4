"""Ids that must be unique, not secret: request ids and message ids.

``uuid.uuid4()`` reads the kernel's random source for every id (``os.urandom``, a
``getrandom`` call that gives up the GIL: with the store's writer thread waiting for it,
the event loop then waits to take it back) and builds a ``UUID`` object to print it.
Twice for every accepted event, that cost the loop about 10 µs of each. These ids only
have to be unique, so they come from a Mersenne Twister seeded from the kernel (again in
a forked child), printed in UUID version 4's form.
"""

from __future__ import annotations

import os
import random

_random = random.Random()
os.register_at_fork(after_in_child=_random.seed)

#: Clears the version nibble and the variant's two bits of a 128-bit number...
_CLEAR = ~((0xF << 76) | (0x3 << 62))
#: ...and sets them: version 4, the RFC 4122 variant.
_SET = (0x4 << 76) | (0x2 << 62)


def new_uuid() -> str:
    """A random UUID (version 4) as text: ``xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx``."""
    h = "%032x" % (_random.getrandbits(128) & _CLEAR | _SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
