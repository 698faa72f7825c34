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
from waitress import wasyncore


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
    """End the server's loop and close its sockets, then its trigger and its worker threads.

    The trigger must outlive the loop. `pull_trigger` queues the closing before it writes to
    the trigger's pipe, and a worker's earlier wake-up can make the loop run the queue in
    between: had the closing closed the pipe, the write would go to a closed descriptor, or
    to whatever file had been given its number since (seen on CI as EBADF).
    """

    def close_all_but_the_trigger() -> None:
        for channel in list(server._map.values()):
            if channel is server.trigger:
                channel.del_channel()  # out of the loop's map, its pipe still open
            elif channel is server:
                wasyncore.dispatcher.close(server)  # the listening socket: the server's close() takes the trigger too
            else:
                channel.close()

    server.trigger.pull_trigger(close_all_but_the_trigger)
    thread.join(timeout=5)
    assert not thread.is_alive(), "waitress's loop did not end"
    server.trigger.close()
    server.task_dispatcher.shutdown()
