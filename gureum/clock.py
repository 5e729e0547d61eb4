"""The time as the store and AWS's APIs keep it: whole milliseconds since the epoch."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
