"""The `promoter` command line: the parser, and one short function per command."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from promoter.errors import GateClosed, PermanentError, TransientError

if TYPE_CHECKING:
    from promoter.githistory import Commits
    from promoter.history import Deploy
    from promoter.service import Result
    from promoter.settings import Settings


class _Row(Protocol):
    def to_json(self) -> dict[str, Any]: ...


_RowT = TypeVar("_RowT", bound=_Row)

EXIT_INVALID = 2
EXIT_GATE = 3  # a promotion gate is not met: nothing was written
EXIT_TRANSIENT = 75  # EX_TEMPFAIL: try again later


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the subcommand and return its exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except PermanentError as err:
        print(f"promoter: error: {err}", file=sys.stderr)
        return EXIT_INVALID
    except GateClosed as err:
        print(f"promoter: {err}", file=sys.stderr)
        return EXIT_GATE
    except TransientError as err:
        print(f"promoter: temporary failure, try again: {err}", file=sys.stderr)
        return EXIT_TRANSIENT
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a bug of ours: still one line, and retryable
        print(f"promoter: internal error ({type(err).__name__}): {err}", file=sys.stderr)
        return EXIT_TRANSIENT


def promote_command(args: argparse.Namespace) -> int:
    from promoter.events import parse_event
    from promoter.service import promote

    settings = _settings(args, dry_run=args.dry_run)
    event = parse_event(_read_event(args.event))
    # SIGTERM ends the process as an exception would, so that the git process running now is
    # killed with it (see promoter.processes) instead of living on as an orphan.
    signal.signal(signal.SIGTERM, _terminated)
    return _printed(promote(event, settings))


def listen_command(args: argparse.Namespace) -> int:
    from promoter.worker import listen

    return listen(args.subscription, _settings(args), max_in_flight=args.max_in_flight)


def history_command(args: argparse.Namespace) -> int:
    from promoter.gitrepo import Workspace
    from promoter.history import history, table

    if args.limit < 0:
        from promoter.errors import ConfigError

        raise ConfigError(f"--limit: expected 0 (everything) or more, got {args.limit}")
    limit = args.limit or None
    settings = _settings(args, commits=False)

    def read(found: Commits) -> list[Deploy]:
        commits, reverted = found
        return history(commits, reverted=reverted, image=args.image, path=args.path, limit=limit)

    def enough(found: Commits) -> bool:
        return limit is not None and len(read(found)) >= limit

    with Workspace.open(settings.workdir, settings.remote, timeout=settings.git_timeout) as ws:
        found = ws.history(ws.fetch(), enough=enough)
    return _listed(read(found), table, as_json=args.json, empty="no deploys found")


def promote_env_command(args: argparse.Namespace) -> int:
    from promoter.argoview import ArgoView
    from promoter.envpromotion import Request, promote_env

    settings = _settings(args)
    request = Request(args.to, args.source, args.image, args.force)
    with ArgoView.from_environ(os.environ, kubeconfig=args.kubeconfig) as argo:
        result = promote_env(settings, request, health=argo.health)
    return _printed(result)


def status_command(args: argparse.Namespace) -> int:
    from promoter.argoview import ArgoView
    from promoter.envstatus import status
    from promoter.status import table

    settings = _settings(args, commits=False)
    with ArgoView.from_environ(os.environ, kubeconfig=args.kubeconfig) as argo:
        rows = status(settings, argo=argo, only=args.env)
    empty = "nothing promoted yet, and promoter.yaml names no image"
    return _listed(rows, table, as_json=args.json, empty=empty)


def rollback_command(args: argparse.Namespace) -> int:
    from promoter.interventions import rollback

    result = rollback(
        _settings(args),
        image=args.image,
        to_build=args.to_build,
        to_commit=args.to_commit,
        hold_too=args.hold,
        reason=args.reason,
    )
    return _printed(result)


def hold_command(args: argparse.Namespace) -> int:
    from promoter.interventions import hold

    result = hold(_settings(args), image=args.image, path=args.path, reason=args.reason)
    return _printed(result)


def release_command(args: argparse.Namespace) -> int:
    from promoter.interventions import release

    return _printed(release(_settings(args), image=args.image, path=args.path))


def _settings(args: argparse.Namespace, *, dry_run: bool = False, commits: bool = True) -> Settings:
    """The settings from the config repo options (`_config_repo`) and the environment;
    `commits`: False for a command that only reads (its signing key is not probed)."""
    from promoter.settings import Settings

    return Settings.build(
        repo=args.repo,
        branch=args.branch,
        policy=getattr(args, "policy", None),  # history, rollback, hold, release: no --policy
        workdir=args.workdir,
        dry_run=dry_run,
        commits=commits,
    )


def dev_command(args: argparse.Namespace) -> int:
    from promoter.devloop import run_dev

    return run_dev(
        home=Path(args.home), port=args.port, seed=Path(args.seed), emulator=not args.no_emulator
    )


def simulate_command(args: argparse.Namespace) -> int:
    from promoter.devloop import simulate

    return simulate(home=Path(args.home), image=args.image, port=args.port)


def _printed(result: Result) -> int:
    """Print the result's JSON object; a commit whose `promoted` message or Argo CD's webhook
    failed says so too, on stderr (the commit stands: the exit code is 0)."""
    print(json.dumps(result.to_json()))
    if result.unnotified:
        print(f"promoter: committed, Argo CD not told: {result.unnotified}", file=sys.stderr)
    if result.unannounced:
        print(f"promoter: committed, not announced: {result.unannounced}", file=sys.stderr)
    return 0


def _listed(
    rows: list[_RowT], table: Callable[[list[_RowT]], str], *, as_json: bool, empty: str
) -> int:
    """Print `rows` as a JSON array (--json), else as a table; none: `empty` on stderr."""
    if as_json:
        print(json.dumps([row.to_json() for row in rows]))
    elif rows:
        print(table(rows))
    else:
        print(empty, file=sys.stderr)
    return 0


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _read_event(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as err:
        from promoter.errors import InvalidEvent

        raise InvalidEvent(f"--event {source}: cannot read ({err.strerror})") from None


DESCRIPTION = """\
Promote successful Cloud Build images into a GitOps config repo: each build's image digest is
written into the Kubernetes manifests that name its image, as one commit pushed fast-forward,
which Argo CD then applies. The config repo's git log is the deploy audit trail.

Try it locally with `promoter dev` and `promoter simulate`; run it with `promoter promote` (one
event), `promoter listen` (a Pub/Sub pull subscription) or as the Cloud Function in
promoter/main.py. Carry a digest from one environment to the next with `promoter promote-env`,
and see where each stands in git and in Argo CD with `promoter status`;
see what was deployed with `promoter history`; undo a deploy with `promoter rollback`; stop an
image from being promoted with `promoter hold` (until `promoter release`)."""

EXAMPLES = {
    "dev": "promoter dev                      # config repo, function server, emulator if present",
    "simulate": "promoter simulate --image europe-west1-docker.pkg.dev/demo-shop/apps/web",
    "promote": "promoter promote --event build.json --repo https://github.com/org/config.git",
    "listen": (
        "promoter listen --subscription projects/demo-shop/subscriptions/promoter-pull \\\n"
        "    --repo https://github.com/org/config.git --max-in-flight 4"
    ),
    "history": (
        "promoter history --repo https://github.com/org/config.git \\\n"
        "    --image europe-west1-docker.pkg.dev/demo-shop/apps/web --path 'clusters/prod/**'"
    ),
    "promote-env": (
        "promoter promote-env --repo https://github.com/org/config.git --to prod \\\n"
        "    --image europe-west1-docker.pkg.dev/demo-shop/apps/web"
    ),
    "status": "promoter status --repo https://github.com/org/config.git --env prod",
    "rollback": (
        "promoter rollback --repo https://github.com/org/config.git \\\n"
        "    --image europe-west1-docker.pkg.dev/demo-shop/apps/web --hold --reason 'p99 up 3x'"
    ),
    "hold": (
        "promoter hold --repo https://github.com/org/config.git \\\n"
        "    --image europe-west1-docker.pkg.dev/demo-shop/apps/web --path 'clusters/prod/**' \\\n"
        "    --reason 'freeze until the 4th'"
    ),
    "release": (
        "promoter release --repo https://github.com/org/config.git \\\n"
        "    --image europe-west1-docker.pkg.dev/demo-shop/apps/web"
    ),
}


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=f"example:\n  {EXAMPLES[name]}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _config_repo(parser: argparse.ArgumentParser, verb: str, *, policy: bool) -> None:
    """The options naming the config repo, its branch (and policy) and the workspaces' folder."""
    parser.add_argument("--repo", required=True, help="config repo URL or local path")
    parser.add_argument("--branch", help=f"branch to {verb} (default: main)")
    if policy:
        parser.add_argument("--policy", help="policy file inside the config repo (promoter.yaml)")
    parser.add_argument("--workdir", help="where warm workspaces live (default: temp dir)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promoter",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    from promoter.devloop import DEFAULT_HOME, DEFAULT_PORT, DEFAULT_SEED

    dev = _command(commands, "dev", "run the local loop: config repo, function, emulator")
    dev.add_argument("--home", default=str(DEFAULT_HOME), help="where the loop keeps its state")
    dev.add_argument("--port", type=int, default=DEFAULT_PORT, help="function server port")
    dev.add_argument("--seed", default=str(DEFAULT_SEED), help="manifests to seed the repo with")
    dev.add_argument(
        "--no-emulator", action="store_true", help="post events directly, even where gcloud is"
    )
    dev.set_defaults(run=dev_command)

    simulate = _command(commands, "simulate", "send a simulated successful build to `dev`")
    simulate.add_argument("--image", help="repository of the built image (default: the app's)")
    simulate.add_argument("--home", default=str(DEFAULT_HOME), help="the dev loop's state")
    simulate.add_argument("--port", type=int, default=DEFAULT_PORT, help="function server port")
    simulate.set_defaults(run=simulate_command)

    promote = _command(commands, "promote", "promote one Cloud Build event")
    promote.add_argument("--event", required=True, help="event file (any envelope), - for stdin")
    _config_repo(promote, "promote on", policy=True)
    promote.add_argument("--dry-run", action="store_true", help="plan only; commit nothing")
    promote.set_defaults(run=promote_command)

    listen = _command(commands, "listen", "promote from a Pub/Sub pull subscription")
    listen.add_argument("--subscription", required=True, help="projects/P/subscriptions/S")
    _config_repo(listen, "promote on", policy=True)
    listen.add_argument(
        "--max-in-flight", type=int, default=4, help="messages handled at once (default: 4)"
    )
    listen.set_defaults(run=listen_command)

    promote_env = _command(
        commands, "promote-env", "promote what one environment runs into the next, behind gates"
    )
    _config_repo(promote_env, "promote on", policy=True)
    promote_env.add_argument("--to", required=True, help="the environment to promote into")
    promote_env.add_argument(
        "--from", dest="source", help="its source environment (default: its `from`)"
    )
    promote_env.add_argument("--image", help="only this image repository (default: all)")
    promote_env.add_argument(
        "--force", action="store_true", help="promote past closed gates (said in the commit)"
    )
    promote_env.add_argument(
        "--kubeconfig", help="to ask Argo CD (default: KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    promote_env.set_defaults(run=promote_env_command)

    status = _command(
        commands, "status", "per environment and image: promoted in git, and Argo CD's state"
    )
    _config_repo(status, "read", policy=True)
    status.add_argument("--env", help="only this environment")
    status.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    status.add_argument(
        "--kubeconfig", help="to ask Argo CD (default: KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    status.set_defaults(run=status_command)

    history = _command(commands, "history", "list deploys, newest first, from the commits")
    _config_repo(history, "read", policy=False)
    history.add_argument("--image", help="only this image repository")
    history.add_argument("--path", help="only deploys that changed files matching this glob")
    history.add_argument(
        "--limit", type=int, default=20, help="at most this many deploys (default 20; 0: all)"
    )
    history.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    history.set_defaults(run=history_command)

    rollback = _command(commands, "rollback", "undo an image's latest deploy, as a new commit")
    _config_repo(rollback, "change", policy=False)
    rollback.add_argument("--image", required=True, help="the image repository to roll back")
    to = rollback.add_mutually_exclusive_group()
    to.add_argument("--to-build", help="restore what this build's promotion deployed")
    to.add_argument("--to-commit", help="restore the image as it was at this commit")
    rollback.add_argument(
        "--hold", action="store_true", help="also hold the image: newer builds wait for release"
    )
    rollback.add_argument("--reason", default="", help="why, for the commit message")
    rollback.set_defaults(run=rollback_command)

    hold = _command(commands, "hold", "stop events from promoting an image, until release")
    _config_repo(hold, "change", policy=False)
    hold.add_argument("--image", required=True, help="the image repository to hold")
    hold.add_argument("--path", help="only in the files this glob matches (default: everywhere)")
    hold.add_argument("--reason", default="", help="why, for the commit message")
    hold.set_defaults(run=hold_command)

    release = _command(commands, "release", "let events promote a held image again")
    _config_repo(release, "change", policy=False)
    release.add_argument("--image", required=True, help="the held image repository")
    release.add_argument("--path", help="only the hold on this glob (default: all its holds)")
    release.set_defaults(run=release_command)
    return parser
