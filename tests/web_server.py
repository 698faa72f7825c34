"""The web service in waitress, the production server `serve` uses, on a free port of loopback.

    with serving(create_app(settings)) as base_url:
        requests.get(base_url + "/healthz")

Stopping closes every socket from inside waitress's own loop (through its trigger), so the
loop ends by itself: closing them from the test's thread races with the loop's select.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
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
        stop(server, thread)


def stop(server, thread: threading.Thread) -> None:
    """End the server's loop and close its sockets, then its worker threads."""
    channels = list(server._map.values())
    try:
        server.trigger.pull_trigger(lambda: [channel.close() for channel in channels])
    except OSError as exc:
        # Once seen on CI (EBADF): the trigger's pipe was gone although every request had been
        # answered. Emptying the map without closing anything also ends the loop, within one
        # select timeout, and the sockets can then be closed here without a race.
        warnings.warn(f"waitress's trigger could not be pulled ({exc}); {describe(server, thread)}", stacklevel=3)
        server._map.clear()
        thread.join(timeout=server.adj.asyncore_loop_timeout + 5)
        server.trigger._fds = []  # closed already, or by now the numbers of someone else's files
        for channel in channels:
            with contextlib.suppress(OSError):
                channel.close()
    thread.join(timeout=5)
    server.task_dispatcher.shutdown()


def describe(server, thread: threading.Thread) -> str:
    """What the server looked like when its trigger failed, for the warning."""
    return f"trigger closed: {server.trigger._closed}, loop running: {thread.is_alive()}, channels: {len(server._map)}"
