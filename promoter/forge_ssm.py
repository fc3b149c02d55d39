"""Google Cloud Secure Source Manager's pull requests over its REST API (v1).

A repository is named by its resource name (`projects/P/locations/L/repositories/R`) and a pull
request by the repository's name, `/pullRequests/` and its number. Create, update (PATCH with an
`updateMask`), `:close` and `:merge` answer a long-running Operation: its `response` is used
when it is done, else `operations/{name}` is polled until it is, within OPERATION_SECONDS.

SSM keeps no rule of one open pull request per head: its list has no head-branch filter and its
create never answers "already exists". So `find_open` reads every page and keeps the open ones
from `head` into `base`, the lowest-numbered being *the* pull request; and `create`, having
opened one, lists again: when a lower-numbered one is open for the same pair (another instance
opened it at the same time), it closes its own and answers None, and `forge.ensure` updates
that one. Each instance closes only what it created. A list that lags behind a create by more
than that create's own round trip could still leave two open; builds then update the lowest.

The API gives no web address for a pull request: `url` is its resource name (see README).
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote, urlencode

from promoter.errors import ConfigError
from promoter.forgeapi import Answer, ForgeApi, ForgeUnavailable
from promoter.pullrequests import AutoMerge, PullRequest, State

DEFAULT_API = "https://securesourcemanager.googleapis.com/v1"
NEEDS = "roles/securesourcemanager.repoWriter (and instanceAccessor on its instance)"
OPERATION_SECONDS = 30.0  # an operation still running after this is a transient failure
PAGE_SIZE = 100  # the API's largest page
MAX_PAGES = 200  # 20,000 pull requests, closed ones included: the list has no state filter
_STATES: dict[str, State] = {"OPEN": "open", "MERGED": "merged", "CLOSED": "closed"}
_OPERATION = re.compile(r"projects/[^/?#]+/locations/[^/?#]+/operations/[^/?#]+")
# google.rpc.Code as the HTTP status it stands for (google/rpc/code.proto), for ForgeApi.fail
_HTTP = {1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409}
_HTTP |= {11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401}


class SecureSourceManager:
    """Pull requests of one Secure Source Manager repository (its resource name)."""

    def __init__(
        self,
        repository: str,
        *,
        api: str,
        token: str,
        timeout: float,
        credential: str = "PROMOTER_FORGE_TOKEN",
    ) -> None:
        self.api = ForgeApi(
            api,
            token,
            header="Authorization",
            name="Secure Source Manager",
            repository=repository,
            needs=NEEDS,
            timeout=timeout,
            credential=credential,
        )
        self.repository = repository
        self.pulls = f"/{quote(repository)}/pullRequests"

    def create(self, *, base: str, head: str, title: str, body: str) -> PullRequest | None:
        """Open a pull request; None when another open one from `head` into `base` came first
        (ours is closed again)."""
        fields = {"title": title, "body": body, "base": {"ref": base}, "head": {"ref": head}}
        doing = f"open a pull request from {head} into {base}"
        answer = self.api.send("POST", self.pulls, fields)
        made = self._pull_request(self._operation(answer, doing))
        first = min([*self._open(base=base, head=head), made], key=lambda pr: pr.number)
        if first.number == made.number:
            return PullRequest(made.number, made.url, created=True)
        self.close(made)
        return None

    def find_open(self, *, base: str, head: str) -> PullRequest | None:
        """The open pull request from `head` into `base` (the lowest-numbered), if any."""
        found = self._open(base=base, head=head)
        return min(found, key=lambda pr: pr.number) if found else None

    def update(self, pr: PullRequest, *, title: str, body: str) -> None:
        """Give `pr` a new title and body (and nothing else: the update mask names them)."""
        path = f"/{quote(pr.url)}?{urlencode({'updateMask': 'title,body'})}"
        answer = self.api.send("PATCH", path, {"title": title, "body": body})
        self._operation(answer, f"update pull request {pr.number}")

    def close(self, pr: PullRequest) -> None:
        """Close `pr` without merging it."""
        answer = self.api.send("POST", f"/{quote(pr.url)}:close", {})
        self._operation(answer, f"close pull request {pr.number}")

    def state(self, pr: PullRequest) -> State:
        """`open`, `merged` or `closed`."""
        answer = self.api.send("GET", f"/{quote(pr.url)}")
        if answer.status != 200 or not isinstance(answer.data, dict):
            self.api.fail(answer, f"read pull request {pr.number}")
        return _STATES.get(str(answer.data.get("state")), "closed")

    def enable_auto_merge(self, pr: PullRequest) -> AutoMerge:
        """Refused: SSM can merge at once (`:merge`), not once the checks pass (promoter.yaml's
        `write.autoMerge` is refused with forge ssm before anything is asked)."""
        raise ConfigError(
            "promoter.yaml: write.autoMerge: Secure Source Manager has no auto-merge"
            f" (pull request {pr.number} stays open)"
        )

    def _open(self, *, base: str, head: str) -> list[PullRequest]:
        """Every open pull request from `head` into `base`, from all pages of the list."""
        found, token = [], ""
        for _ in range(MAX_PAGES):
            query = {"pageSize": PAGE_SIZE} | ({"pageToken": token} if token else {})
            answer = self.api.send("GET", f"{self.pulls}?{urlencode(query)}")
            if answer.status != 200 or not isinstance(answer.data, dict):
                self.api.fail(answer, f"list the pull requests from {head}")
            page = answer.data.get("pullRequests") or []
            found += [self._pull_request(p) for p in page if _is_open(p, base=base, head=head)]
            token = str(answer.data.get("nextPageToken") or "")
            if not token:
                return found
        raise ForgeUnavailable(
            f"Secure Source Manager: more than {MAX_PAGES * PAGE_SIZE} pull requests in"
            f" {self.repository}; the promoter reads no further"
        )

    def _operation(self, answer: Answer, doing: str) -> dict[str, Any]:
        """The `response` of the Operation in `answer`, polled for while it runs."""
        deadline = time.monotonic() + OPERATION_SECONDS
        delay = 0.05
        while True:
            if answer.status != 200 or not isinstance(answer.data, dict):
                self.api.fail(answer, doing)
            operation = answer.data
            if operation.get("done"):
                return self._outcome(operation, doing)
            name = str(operation.get("name", ""))
            if not _OPERATION.fullmatch(name):
                raise ForgeUnavailable(f"Secure Source Manager: {doing}: no operation to wait for")
            if time.monotonic() + delay > deadline:
                raise ForgeUnavailable(
                    f"Secure Source Manager: {doing}: still running after {OPERATION_SECONDS:g} s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            answer = self.api.send("GET", f"/{name}")

    def _outcome(self, operation: dict[str, Any], doing: str) -> dict[str, Any]:
        error = operation.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            status = _HTTP.get(code, 500) if isinstance(code, int) else 500
            self.api.fail(Answer(status, {"message": str(error.get("message", ""))}), doing)
        response = operation.get("response")
        return response if isinstance(response, dict) else {}

    def _pull_request(self, data: dict[str, Any]) -> PullRequest:
        """Ours, numbered by the last part of its name; a name outside the repository is not.

        The project may be named by its ID in promoter.yaml and by its number in the API's
        answers (the API documents numbers): only the location and repository must match.
        """
        name = str(data.get("name", ""))
        prefix, _, number = name.rpartition("/pullRequests/")
        if _below_project(prefix) != _below_project(self.repository) or not number.isdigit():
            raise ForgeUnavailable(
                f"Secure Source Manager: unexpected pull request name {name[:200]!r}"
            )
        return PullRequest(int(number), name)


def _is_open(data: Any, *, base: str, head: str) -> bool:
    if not isinstance(data, dict) or data.get("state") != "OPEN":
        return False
    return _ref(data, "head") == head and _ref(data, "base") == base


def _ref(data: dict[str, Any], side: str) -> str:
    branch = data.get(side)
    ref = str(branch.get("ref", "")) if isinstance(branch, dict) else ""
    return ref.removeprefix("refs/heads/")


def _below_project(name: str) -> str:
    """`locations/L/repositories/R` of `projects/P/locations/L/repositories/R`."""
    parts = name.split("/")
    return "/".join(parts[2:]) if len(parts) == 6 and parts[0] == "projects" else ""
