"""GitLab's merge requests over its REST API (v4): the same interface as GitHub's pull requests.

GitLab keeps one open merge request per source branch: a second create is answered 409
"Another open merge request already exists for this source branch", and the caller finds that
one instead (`forge.ensure`). A project is named by its path, URL-encoded (`group%2Fproject`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from promoter.forgeapi import ForgeApi, ForgeUnavailable
from promoter.pullrequests import AutoMerge, PullRequest, State

DEFAULT_API = "https://gitlab.com/api/v4"
NEEDS = "the api scope and at least the Developer role"
_STATES: dict[str, State] = {"opened": "open", "locked": "open", "merged": "merged"}


class GitLab:
    """Merge requests of one GitLab project (its path: `group/project`)."""

    def __init__(self, repository: str, *, api: str, token: str, timeout: float) -> None:
        self.api = ForgeApi(
            api,
            token,
            header="PRIVATE-TOKEN",
            name="GitLab",
            repository=repository,
            needs=NEEDS,
            timeout=timeout,
        )
        self.requests = f"/projects/{quote(repository, safe='')}/merge_requests"

    def create(self, *, base: str, head: str, title: str, body: str) -> PullRequest | None:
        """Open a merge request; None when one is open for `head` already."""
        fields = {"source_branch": head, "target_branch": base, "title": title}
        answer = self.api.send("POST", self.requests, fields | {"description": body})
        if answer.status == 201:
            return _merge_request(answer.data, created=True)
        if answer.status == 409 and "already exists" in answer.message():
            return None
        self.api.fail(answer, f"open a merge request from {head} into {base}")

    def find_open(self, *, base: str, head: str) -> PullRequest | None:
        """The open merge request from `head` into `base`, if any."""
        query = urlencode({"source_branch": head, "target_branch": base, "state": "opened"})
        answer = self.api.send("GET", f"{self.requests}?{query}")
        if answer.status != 200 or not isinstance(answer.data, list):
            self.api.fail(answer, f"list the merge requests from {head}")
        return _merge_request(answer.data[0]) if answer.data else None

    def update(self, pr: PullRequest, *, title: str, body: str) -> None:
        """Give `pr` a new title and description."""
        self._edit(pr, {"title": title, "description": body}, "update")

    def close(self, pr: PullRequest) -> None:
        """Close `pr` without merging it."""
        self._edit(pr, {"state_event": "close"}, "close")

    def state(self, pr: PullRequest) -> State:
        """`open`, `merged` or `closed`."""
        answer = self.api.send("GET", f"{self.requests}/{pr.number}")
        if answer.status != 200 or not isinstance(answer.data, dict):
            self.api.fail(answer, f"read merge request !{pr.number}")
        return _STATES.get(str(answer.data.get("state")), "closed")

    def enable_auto_merge(self, pr: PullRequest) -> AutoMerge:
        """Ask GitLab to merge `pr` when its pipeline succeeds: `enabled`, or `merged` when
        GitLab merged it at once (no pipeline to wait for)."""
        # GitLab 17.11 renamed merge_when_pipeline_succeeds to auto_merge; each ignores the other.
        wanted = {"merge_when_pipeline_succeeds": True, "auto_merge": True}
        answer = self.api.send("PUT", f"{self.requests}/{pr.number}/merge", wanted)
        if answer.status == 200:
            merged = isinstance(answer.data, dict) and answer.data.get("state") == "merged"
            return "merged" if merged else "enabled"
        if answer.status in (405, 406, 409, 422):  # still checking mergeability, or a race
            raise ForgeUnavailable(f"GitLab: merge !{pr.number}: {self.api.quote(answer)}")
        self.api.fail(answer, f"merge merge request !{pr.number} when its pipeline succeeds")

    def _edit(self, pr: PullRequest, fields: dict[str, Any], doing: str) -> None:
        answer = self.api.send("PUT", f"{self.requests}/{pr.number}", fields)
        if answer.status != 200:
            self.api.fail(answer, f"{doing} merge request !{pr.number}")


def _merge_request(data: Any, *, created: bool = False) -> PullRequest:
    return PullRequest(int(data["iid"]), str(data["web_url"]), created)
