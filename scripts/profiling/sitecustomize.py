"""Profile every Python process started with this folder first on PYTHONPATH (used by scripts/profile_upstream.sh).

With $NESBENCH_PROFILE_DIR set, cProfile runs from interpreter start-up to exit and writes ``<pid>.prof`` plus
``<pid>.json`` (argv, wall seconds) into that folder; without it this module does nothing. GPU work is asynchronous:
its time lands on the next synchronising call unless CUDA_LAUNCH_BLOCKING=1 (``profile_upstream.sh --sync``).
"""

import os

_DIR = os.environ.get("NESBENCH_PROFILE_DIR")
if _DIR:
    import atexit
    import cProfile
    import json
    import sys
    import time

    _PROFILE = cProfile.Profile()
    _T0 = time.perf_counter()

    def _dump() -> None:
        _PROFILE.disable()
        os.makedirs(_DIR, exist_ok=True)
        stem = os.path.join(_DIR, str(os.getpid()))
        _PROFILE.dump_stats(stem + ".prof")
        with open(stem + ".json", "w", encoding="utf-8") as f:
            json.dump({"argv": sys.argv, "wall_s": time.perf_counter() - _T0}, f)

    atexit.register(_dump)
    _PROFILE.enable()
