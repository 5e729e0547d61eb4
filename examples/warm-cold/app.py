"""The seed's warm/cold start demo.

Code outside the handler runs once per sandbox (its init, the cold start); every later
invoke of the same sandbox finds the global already set (a warm start).
"""

import time

COLD = True
STARTED = time.time()


def handler(event, context):
    global COLD
    start = "cold start" if COLD else "warm start"
    COLD = False
    return {"start": start, "sandbox_age_seconds": round(time.time() - STARTED, 3)}
