"""The stand-in for .ci/docker-smoke.sh: serve on 127.0.0.1:PORT and write the wall-clock
time of the first request after the file was removed, so the smoke can time each run's start
to first request."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from sentry_standin import DevServer, Store


def main() -> None:
    port, token, first_file = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    store = Store(orgs=("acme",), projects=("web", "api"), tokens=(token,))
    server = DevServer(store, host="127.0.0.1", port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with server:
        print(f"stand-in ready on {server.url}", flush=True)
        seen = 0
        while not stop.is_set():
            count = len(store.requests)
            # The first request after the file was removed (the smoke removes it before a run).
            if count > seen and not first_file.exists():
                first_file.write_text(f"{time.time():.3f}\n")
            seen = count
            time.sleep(0.002)


if __name__ == "__main__":
    main()
