"""GitHub's pull requests over its REST API, and auto-merge over its GraphQL API.

GitHub keeps one open pull request per head and base: a second create is answered 422 "A pull
request already exists", and the caller finds that one instead (`forge.ensure`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

from promoter.forgeapi import Answer, ForgeApi, ForgeUnavailable
from promoter.pullrequests import AutoMerge, PullRequest, State

DEFAULT_API = "https://api.github.com"
NEEDS = "write access to contents and pull requests (a fine-grained token) or the repo scope"
API_VERSION = "2022-11-28"
# Auto-merge is for a pull request that waits for something; one that can be merged now is
# refused in these words ("Pull request Pull request is in clean status"): merge it directly.
_MERGEABLE_NOW = re.compile(r"is in (clean|unstable|has_hooks) status", re.IGNORECASE)
_STATUS = re.compile(r"is in \w+ status", re.IGNORECASE)
_AUTO_MERGE = """
mutation($id: ID!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id}) { pullRequest { number } }
}
"""


class GitHub:
    """Pull requests of one GitHub repository (`owner/name`)."""

    def __init__(self, repository: str, *, api: str, token: str, timeout: float) -> None:
        self.api = ForgeApi(
            api,
            token,
            header="Authorization",
            name="GitHub",
            repository=repository,
            needs=NEEDS,
            timeout=timeout,
            extra=(
                ("Accept", "application/vnd.github+json"),
                ("X-GitHub-Api-Version", API_VERSION),
            ),
        )
        self.graphql = replace(self.api, root=graphql_root(self.api.root))
        self.owner = repository.split("/", 1)[0]
        self.pulls = f"/repos/{quote(repository)}/pulls"

    def create(self, *, base: str, head: str, title: str, body: str) -> PullRequest | None:
        """Open a pull request; None when one is open for `head` already."""
        fields = {"title": title, "body": body, "head": head, "base": base}
        answer = self.api.send("POST", self.pulls, fields)
        if answer.status == 201:
            return _pull_request(answer.data, created=True)
        if answer.status == 422 and "already exists" in answer.message():
            return None
        self.api.fail(answer, f"open a pull request from {head} into {base}")

    def find_open(self, *, base: str, head: str) -> PullRequest | None:
        """The open pull request from `head` into `base`, if any."""
        query = urlencode({"head": f"{self.owner}:{head}", "base": base, "state": "open"})
        answer = self.api.send("GET", f"{self.pulls}?{query}")
        if answer.status != 200 or not isinstance(answer.data, list):
            self.api.fail(answer, f"list the pull requests from {head}")
        return _pull_request(answer.data[0]) if answer.data else None

    def update(self, pr: PullRequest, *, title: str, body: str) -> None:
        """Give `pr` a new title and body."""
        self._edit(pr, {"title": title, "body": body}, "update")

    def close(self, pr: PullRequest) -> None:
        """Close `pr` without merging it."""
        self._edit(pr, {"state": "closed"}, "close")

    def state(self, pr: PullRequest) -> State:
        """`open`, `merged` or `closed`."""
        data = self._get(pr)
        if data.get("merged") or data.get("merged_at"):
            return "merged"
        return "open" if data.get("state") == "open" else "closed"

    def enable_auto_merge(self, pr: PullRequest) -> AutoMerge:
        """Ask GitHub to merge `pr` once its checks pass: `enabled`, or `merged` when it could
        be merged at once."""
        node_id = pr.node_id or str(self._get(pr).get("node_id", ""))
        query = {"query": _AUTO_MERGE, "variables": {"id": node_id}}
        answer = self.graphql.send("POST", "", query)
        if answer.status != 200 or not isinstance(answer.data, dict):
            self.graphql.fail(answer, f"enable auto-merge on pull request #{pr.number}")
        said = answer.message()
        if not said:
            return "enabled"
        if _MERGEABLE_NOW.search(said):
            return self._merge(pr)
        if _STATUS.search(said):  # unknown, blocked, behind: GitHub is still deciding
            raise ForgeUnavailable(f"GitHub: pull request #{pr.number}: {self.api.quote(answer)}")
        # GraphQL says 200 and puts the refusal in `errors`: answer it as REST would have.
        refused = 403 if "FORBIDDEN" in _error_types(answer.data) else 422
        self.api.fail(Answer(refused, answer.data), f"enable auto-merge on #{pr.number}")

    def _merge(self, pr: PullRequest) -> AutoMerge:
        answer = self.api.send("PUT", f"{self.pulls}/{pr.number}/merge", {})
        if answer.status == 200:
            return "merged"
        if answer.status in (405, 409):  # not mergeable after all, or the head moved: later
            raise ForgeUnavailable(f"GitHub: merge #{pr.number}: {self.api.quote(answer)}")
        self.api.fail(answer, f"merge pull request #{pr.number}")

    def _edit(self, pr: PullRequest, fields: dict[str, Any], doing: str) -> None:
        answer = self.api.send("PATCH", f"{self.pulls}/{pr.number}", fields)
        if answer.status != 200:
            self.api.fail(answer, f"{doing} pull request #{pr.number}")

    def _get(self, pr: PullRequest) -> dict[str, Any]:
        answer = self.api.send("GET", f"{self.pulls}/{pr.number}")
        if answer.status != 200 or not isinstance(answer.data, dict):
            self.api.fail(answer, f"read pull request #{pr.number}")
        return answer.data


def _pull_request(data: Any, *, created: bool = False) -> PullRequest:
    return PullRequest(int(data["number"]), str(data["html_url"]), created, str(data["node_id"]))


def _error_types(data: dict[str, Any]) -> set[str]:
    errors = data.get("errors")
    return (
        {str(e.get("type")) for e in errors if isinstance(e, dict)}
        if isinstance(errors, list)
        else set()
    )


def graphql_root(root: str) -> str:
    """GraphQL's URL: `/graphql` on api.github.com, `/api/graphql` on GitHub Enterprise."""
    return root.removesuffix("/v3") + "/graphql"
