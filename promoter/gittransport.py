"""The workspace's traffic with the remote: fetch the tip (only when it moved), deepen the
history a search needs, push fast-forward only."""

from __future__ import annotations

import contextlib
import json
import os
import threading

from git.refs.symbolic import SymbolicReference

from promoter.errors import (
    ConfigError,
    GitUnavailable,
    PushRejected,
    RemoteLocked,
    WorkspaceDamaged,
)
from promoter.gitdir import OBJECT_ID, TIP_REF, GitDir, reset

_LOOSE_PER_FOLDER = (6700 + 255) // 256  # gc.auto's default, as `git gc --auto` samples it
_PACK_LIMIT = 50  # gc.autoPackLimit's default
_HISTORY_FILE = "promoter-history.json"  # since when history is complete, for which boundary
# The commit this process's last push from each workspace put on the remote branch.
_PUSHED: dict[str, str] = {}
_PUSHED_LOCK = threading.Lock()
_NETWORK_HINTS = (
    "could not read from remote",
    "unable to access",
    "could not resolve",
    "connection refused",
    "connection timed out",
    "unable to connect",
    "the remote end hung up",
    "early eof",
    "does not appear to be a git repository",
    "authentication failed",
    "repository not found",
    "permission denied",
    "couldn't connect",
    "failed to connect",
    "ssl",
)


class Transport(GitDir):
    """Fetch and push the one branch of the workspace's remote."""

    def fetch(self, *, moved: bool = False) -> str:
        """Fetch the branch tip and return its commit id.

        A new workspace takes one commit (depth 1); later fetches add only the new commits, so
        the history since the workspace was made stays local and connected. `moved`: the caller
        knows the branch moved since the last fetch (its push was rejected), so asking the remote
        whether it did would be a wasted round trip.
        """
        known = None if moved else self._local_tip()
        if known is not None and self._remote_tip() == known:
            # Already here (most often: our own last push). A fetch would transfer nothing yet
            # still negotiate and check connectivity, at a cost that grows with the repo.
            self._maintain()
            return known
        (self.path / "FETCH_HEAD").unlink(missing_ok=True)
        self._fetch(*([] if self._has_tip() else ["--depth=1"]))
        return self._fetched_tip() or self._git("rev-parse", TIP_REF)

    def tip_at_hand(self) -> str | None:
        """The commit this process pushed last from here, while the workspace's tip is still it.

        Most often the remote's branch is still there (an instance's events follow one another):
        a first attempt plans on it without asking the remote, and its push's lease checks it.
        None: ask the remote (`fetch`).
        """
        with _PUSHED_LOCK:
            pushed = _PUSHED.get(str(self.path))
        if pushed is None or self._local_tip() != pushed:
            return None
        self._maintain()
        return pushed

    def commits_of_build(self, tip: str, build_id: str, *, since: int) -> set[str]:
        """Files changed by commits of `tip` whose Build-Id trailer is `build_id`.

        `since` (epoch seconds) bounds the search: no build is promoted before it was created.
        History back to then is fetched first where the workspace does not have it.
        """
        self._deepen(tip, since)
        out = self._git(
            "log",
            "-z",  # paths as they are: without it git quotes any path with a non-ASCII byte
            f"--since=@{since}",
            "--format=",
            "--name-only",
            f"--grep=^Build-Id: {build_id}$",
            tip,
        )
        return {path for path in out.split("\0") if path}

    def deepen(self, commits: int) -> bool:
        """Fetch `commits` more of history behind the shallow boundary; False: it is complete."""
        if not (self.path / "shallow").exists():
            return False
        self._fetch(f"--deepen={commits}")
        return True

    def _deepen(self, tip: str, since: int) -> None:
        shallow_file = self.path / "shallow"
        if not shallow_file.exists():
            return
        shallow = shallow_file.read_text()
        complete = self._complete_since(shallow)
        if complete is not None and complete <= since:
            return  # known complete back to then; fetches since added only whole commits
        if set(shallow.split()) & set(self._git("rev-list", f"--since=@{since}", tip).split()):
            self._fetch(f"--shallow-since=@{since}")
            shallow = shallow_file.read_text() if shallow_file.exists() else ""
        (self.path / _HISTORY_FILE).write_text(json.dumps({"shallow": shallow, "since": since}))

    def _complete_since(self, shallow: str) -> int | None:
        """Since when the history is known to be here, for this shallow boundary (None: unknown).

        Without it, a boundary inside the searched time (a new instance that started at a recent
        tip) would have every promotion fetch the same history again for an hour.
        """
        try:
            record = json.loads((self.path / _HISTORY_FILE).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("shallow") != shallow:
            return None
        since = record.get("since")
        return since if isinstance(since, int) else None

    def _has_tip(self) -> bool:
        packed = self.path / "packed-refs"
        return (self.path / TIP_REF).exists() or (
            packed.exists() and f" {TIP_REF}\n" in packed.read_text()
        )

    def _fetch(self, *options: str) -> None:
        refspec = f"+refs/heads/{self.remote.branch}:{TIP_REF}"
        # --no-auto-gc: `_maintain` starts git's maintenance only when it has work to do.
        args = ("fetch", *options, "--no-tags", "--no-auto-gc", "--quiet", self.remote.url)
        status, _, err = self._run(*args, refspec)
        if status != 0:
            stderr = err.lower()
            if "couldn't find remote ref" in stderr:
                raise ConfigError(
                    f"repo: branch {self.remote.branch!r} not found in {self.remote.display}"
                )
            message = f"git fetch from {self.remote.display} failed: {self._tail(err)}"
            if any(hint in stderr for hint in _NETWORK_HINTS):
                raise GitUnavailable(message)
            reset(self.path)  # an unexpected failure (a bad object, a garbage ref): clone again
            raise WorkspaceDamaged(message)
        self._maintain()

    def _local_tip(self) -> str | None:
        """The tip fetched (or pushed) last, read from the ref without a git process."""
        try:
            return SymbolicReference.dereference_recursive(self._repo, TIP_REF)
        except (OSError, ValueError):
            return None

    def _remote_tip(self) -> str | None:
        """The branch's commit id on the remote, asked without fetching (None: not known)."""
        ref = f"refs/heads/{self.remote.branch}"
        status, out, err = self._run("ls-remote", self.remote.url, ref)
        if status != 0 and any(hint in err.lower() for hint in _NETWORK_HINTS):
            raise GitUnavailable(f"git fetch from {self.remote.display} failed: {self._tail(err)}")
        tips = [line.split("\t")[0] for line in out.splitlines() if line.endswith(f"\t{ref}")]
        return tips[0] if status == 0 and tips else None  # else the fetch finds out what is wrong

    def _maintain(self) -> None:
        """Start `git gc --auto` when git's own tests say it has work to do."""
        # Loose objects pile up (one of the 256 object folders, sampled) or packs do. Testing
        # here saves the process a fetch starts every time to find out that it has nothing to do.
        objects = self.path / "objects"
        sample = objects / "17"
        loose = len(os.listdir(sample)) if sample.is_dir() else 0
        packs = sum(1 for _ in (objects / "pack").glob("*.pack"))
        if loose > _LOOSE_PER_FOLDER or packs > _PACK_LIMIT:
            # Housekeeping: past the deadline it is stopped, and the event goes on without it.
            with contextlib.suppress(GitUnavailable):
                self._run("gc", "--auto", "--quiet")

    def _fetched_tip(self) -> str | None:
        # fetch wrote the tip to FETCH_HEAD: reading it saves a `git rev-parse` per event.
        try:
            first = (self.path / "FETCH_HEAD").read_text().split("\t", 1)[0]
        except (OSError, UnicodeDecodeError):
            return None
        return first if OBJECT_ID.fullmatch(first) else None

    def branch_tips(self, prefix: str) -> dict[str, str]:
        """Our head branches on the remote whose names start with `prefix`, and their tips (one
        listing, nothing fetched)."""
        pattern = f"refs/heads/{prefix}*"
        status, out, err = self._run("ls-remote", self.remote.url, pattern)
        if status != 0:
            raise GitUnavailable(f"git ls-remote {self.remote.display} failed: {self._tail(err)}")
        tips = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            name = ref.removeprefix("refs/heads/")
            if ref.startswith("refs/heads/") and name.startswith(prefix):
                tips[name] = sha
        return tips

    def fetch_branch(self, name: str) -> str:
        """Fetch our head branch `name` (its tip only) and return that tip."""
        ref, local = f"refs/heads/{name}", f"refs/promoter/heads/{name}"
        status, _, err = self._run(
            "fetch", "--depth=1", "--no-tags", "--no-auto-gc", "--quiet", self.remote.url,
            f"+{ref}:{local}",
        )  # fmt: skip
        if status != 0:
            raise GitUnavailable(f"git fetch of {ref} failed: {self._tail(err)}")
        return self._git("rev-parse", local)

    def push_branch(self, commit: str, name: str, *, expected: str | None) -> None:
        """Set our own head branch `name` to `commit`, forced, but only from `expected` (None:
        it must not exist yet): a lease, so two instances never overwrite each other blindly.
        Never used for the base branch."""
        lease = f"--force-with-lease=refs/heads/{name}:{expected or ''}"
        # No `+` on the refspec: a forced refspec makes git skip the lease altogether (git
        # 2.39: `+C:x` with `--force-with-lease=x:B` overwrites x at A). The lease alone lets
        # the non-fast-forward update through when the branch is still at `expected`.
        dest = f"{commit}:refs/heads/{name}"
        status, out, err = self._run("push", "--porcelain", "--quiet", lease, self.remote.url, dest)
        if status == 0:
            return
        text = f"{out}\n{err}".lower()
        lost = ("[rejected]", "stale info", "cannot lock ref", "failed to update ref")
        if any(said in text for said in lost):
            raise PushRejected(f"push to {name} of {self.remote.display} rejected: it moved")
        raise GitUnavailable(f"git push to {self.remote.display} failed: {self._tail(err)}")

    def push(self, commit: str, *, onto: str) -> None:
        """Move the remote branch from `onto` to `commit`, a child of it: a fast-forward.

        The lease makes the push a compare-and-swap on the tip the commit was made on: git
        sends the update only while the branch is at `onto`, and the remote applies it only
        from that value. A branch that moved meanwhile, forward or (someone's force push) back
        to an ancestor, rejects it; nothing is ever forced, since `commit`'s parent is `onto`.
        """
        ref = f"refs/heads/{self.remote.branch}"
        lease = f"--force-with-lease={ref}:{onto}"
        args = ("push", "--porcelain", "--quiet", lease, self.remote.url, f"{commit}:{ref}")
        status, out, err = self._run(*args)
        if status == 0:
            with _PUSHED_LOCK:
                _PUSHED[str(self.path)] = commit
            return
        text = f"{out}\n{err}".lower()
        if "unable to create" in text and ".lock" in text and "file exists" in text:
            # A push running there holds the lock for milliseconds; a lock that stays was left
            # by a crashed server process. The caller tells the two apart by retrying.
            raise RemoteLocked(
                f"the remote is locked: refs/heads/{self.remote.branch}.lock exists in"
                f" {self.remote.display}; if no push is running there, remove that file"
            )
        if "[rejected]" in text or "cannot lock ref" in text or "failed to update ref" in text:
            raise PushRejected(f"push to {self.remote.display} rejected: the branch moved")
        raise GitUnavailable(f"git push to {self.remote.display} failed: {self._tail(err)}")
