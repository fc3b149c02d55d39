"""A test whose thread raises: the suite must fail it (run by tests/test_ci.py)."""

import threading


def test_a_thread_raises():
    def fail() -> None:
        raise RuntimeError("lost in a thread")

    thread = threading.Thread(target=fail)
    thread.start()
    thread.join()
