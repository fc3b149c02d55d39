"""A new promoter instance, as a child process: time importing the function module, then its
first event on an empty workdir (the clone included). Prints one JSON line.

`python -m bench.instance REPO_URL WORKDIR BODY_JSON` (run by bench.coldstart).
"""

import os
import sys
import time


def main() -> None:
    url, workdir, body = sys.argv[1:4]
    started = time.perf_counter()
    import promoter.main  # noqa: F401  (what a cold function instance imports)

    imported = time.perf_counter()
    import json

    from promoter.events import from_envelope
    from promoter.service import promote
    from promoter.settings import Settings

    settings = Settings.build(repo=url, workdir=workdir, environ={})
    event = from_envelope(json.loads(body))
    before = time.perf_counter()
    result = promote(event, settings)
    done = time.perf_counter()
    figures = {"import": imported - started, "first_event": done - before}
    from bench.servers import peak_rss  # after the timing: it is no part of an instance

    figures["peak_rss_bytes"] = peak_rss(os.getpid())
    print(json.dumps({**figures, "outcome": result.outcome}))


if __name__ == "__main__":
    main()
