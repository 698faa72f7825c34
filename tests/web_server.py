"""The web service in waitress, the production server `serve` uses, on a free port of loopback.

    with serving(create_app(settings)) as base_url:
        requests.get(base_url + "/healthz")

Stopping closes every socket from inside waitress's own loop (through its trigger), so the
loop ends by itself: closing them from the test's thread races with the loop's select.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import waitress


@contextlib.contextmanager
def serving(app, **options) -> Iterator[str]:
    """Serve `app` until the block ends, with waitress's `options`; yields its base URL."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.trigger.pull_trigger(lambda: [channel.close() for channel in list(server._map.values())])
        thread.join(timeout=5)
        server.task_dispatcher.shutdown()
