"""GitHub, GitLab and Secure Source Manager on loopback: their pull-request paths and JSON, for
the real client.

No forge runs here, so these answer as the real APIs do, at their paths: GitHub REST v3
(`/repos/{owner}/{repo}/pulls...`) and its one GraphQL mutation `enablePullRequestAutoMerge`,
GitLab REST v4 (`/api/v4/projects/{url-encoded path}/merge_requests...`), and Secure Source
Manager v1 (`/v1/projects/P/locations/L/repositories/R/pullRequests...`, whose writes answer
long-running Operations polled at `/v1/projects/P/locations/L/operations/...`), with the fields
the promoter reads and the errors it must understand: GitHub's 422 "A pull request already
exists", GitLab's 409 "Another open merge request already exists", 401 without the token, 404
for another repository. One lock keeps one open pull request per head on GitHub and GitLab, as
those forges do, so two creates racing end as one 201 and one 422/409; SSM has no such rule
(and its list no head filter): two creates racing open two. Faults: any status, a hang, list
answers that lag behind creates, lists held until the test lets them go, error bodies that
quote the credentials they were sent; on SSM, small pages, operations still running for a few
polls, operations that end in an error, names that give the project's number.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

Obj = dict[str, Any]
Kind = Literal["github", "gitlab", "ssm"]
HANG_SECONDS = 30.0  # a hung request's longest wait, should the test never stop the fake


@dataclass(frozen=True)
class Seen:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case: HTTP's are case-insensitive
    body: str


@dataclass
class ForgeFake:
    """One repository's pull requests on one forge, and how the forge misbehaves."""

    kind: Kind
    repository: str
    token: str
    url: str = ""  # the API's root, as PROMOTER_FORGE_API names it
    pulls: dict[int, Obj] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    answered: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    status: int | None = None  # answer every request with this status
    hang: bool = False  # never answer (until the fake stops)
    echo: bool = False  # error bodies quote the credentials sent (a careless proxy does)
    stale_lists: int = 0  # this many list answers still show no pull requests
    checks_pass: bool = False  # required checks done: a pull request is mergeable now
    auto_merge_refusal: tuple[str, str] | None = None  # GitHub GraphQL: an error type, message
    answer_headers: dict[str, str] = field(default_factory=dict)  # sent with every answer
    redirect_to: str | None = None  # answer 301 with a Location there
    page: str | None = None  # answer `status` with this text/html page (a proxy's error page)
    create_gate: threading.Barrier | None = None  # creates wait for each other here
    list_gate: threading.Event = field(default_factory=threading.Event)  # see gated_lists
    gated_lists: int = 0  # this many list requests wait until list_gate is set
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    # Secure Source Manager only
    page_size: int = 30  # the largest page the list gives (the API's default is 30, at most 100)
    running_polls: int = 0  # an operation answers `done: false` to this many polls first
    operation_error: tuple[int, str] | None = None  # a write's operation ends in this error
    names_by_number: bool = False  # answers name the project by its number, not its ID
    operations: dict[str, Obj] = field(default_factory=dict)

    def open_pulls(self, head: str | None = None) -> list[Obj]:
        """The open pull requests (from `head`)."""
        return [
            p
            for p in self.pulls.values()
            if _is_open(self.kind, p) and (head is None or _head(p) == head)
        ]

    def merge(self, number: int) -> None:
        """Merge pull request `number`, as a person pressing the button would."""
        with self.lock:
            _set_merged(self.kind, self.pulls[number])

    def add(self, *, base: str, head: str, title: str = "by hand") -> Obj:
        """A pull request opened by someone else (another instance)."""
        with self.lock:
            return self._create({"base": base, "head": head, "title": title, "body": ""})

    def _create(self, fields: Obj) -> Obj:
        number = len(self.pulls) + 1
        make = {"github": _github_pull, "gitlab": _gitlab_request, "ssm": self._ssm_pull}
        self.pulls[number] = make[self.kind](self.repository, number, fields)
        return self.pulls[number]

    def _ssm_pull(self, repository: str, number: int, fields: Obj) -> Obj:
        named = ssm_named(self, repository)
        return _ssm_pull(named, number, fields)


_OPEN = {"github": "open", "gitlab": "opened", "ssm": "OPEN"}


def _is_open(kind: Kind, pull: Obj) -> bool:
    return bool(pull["state"] == _OPEN[kind])


def _head(pull: Obj) -> str:
    return str(pull["head"]["ref"] if "head" in pull else pull["source_branch"])


def _set_merged(kind: Kind, pull: Obj) -> None:
    if kind == "ssm":
        pull.update(state="MERGED", closeTime="2026-03-02T10:00:00Z")
        return
    pull["merged_at"] = "2026-03-02T10:00:00Z"
    if kind == "github":
        pull.update(state="closed", merged=True)
    else:
        pull.update(state="merged")


def _sha(seed: object) -> str:
    return hashlib.sha1(str(seed).encode()).hexdigest()


def _github_pull(repository: str, number: int, fields: Obj) -> Obj:
    owner = repository.split("/")[0]
    return {
        "url": f"https://api.github.com/repos/{repository}/pulls/{number}",
        "id": 1000 + number,
        "node_id": f"PR_kwDO{number:08d}",
        "html_url": f"https://github.com/{repository}/pull/{number}",
        "number": number,
        "state": "open",
        "title": fields["title"],
        "body": fields.get("body"),
        "head": {"ref": fields["head"], "label": f"{owner}:{fields['head']}", "sha": _sha(number)},
        "base": {"ref": fields["base"], "label": f"{owner}:{fields['base']}"},
        "draft": False,
        "merged": False,
        "merged_at": None,
        "auto_merge": None,
    }


def _gitlab_request(repository: str, iid: int, fields: Obj) -> Obj:
    return {
        "id": 5000 + iid,
        "iid": iid,
        "project_id": 42,
        "title": fields["title"],
        "description": fields.get("body"),
        "state": "opened",
        "source_branch": fields["head"],
        "target_branch": fields["base"],
        "web_url": f"https://gitlab.example.com/{repository}/-/merge_requests/{iid}",
        "sha": _sha(iid),
        "merged_at": None,
        "merge_when_pipeline_succeeds": False,
        "detailed_merge_status": "mergeable",
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins them: no test leaves a thread behind
    block_on_close = True


Answer = tuple[int, Any]


class _Handler(BaseHTTPRequestHandler):
    fake: ForgeFake

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake.seen.append(Seen(self.command, self.path, headers, body))
        if fake.hang:
            fake.stopping.wait(HANG_SECONDS)
            return
        if fake.page is not None:
            self._send(fake.status or 502, fake.page)
            return
        if fake.redirect_to:
            self._send(301, {"message": "Moved Permanently"}, location=fake.redirect_to + self.path)
            return
        code, data = self._answer(body)
        fake.answered.append((self.command, self.path, code))
        if code >= 400 and fake.echo:
            said = data.get("message") or data.get("error", {}).get("message", "")
            data = {"message": f"{said} (you sent {dict(self.headers.items())})"}
        self._send(code, data)

    def _answer(self, body: str) -> Answer:
        fake = self.fake
        if not self._authorized():
            if fake.kind == "ssm":
                return 401, google_error(401, "UNAUTHENTICATED", _SSM_UNAUTHENTICATED)
            said = "Bad credentials" if fake.kind == "github" else "401 Unauthorized"
            return 401, {"message": said}
        if fake.status:
            if fake.kind == "ssm":
                return fake.status, google_error(fake.status, "UNKNOWN", f"fake: {fake.status}")
            return fake.status, {"message": f"fake: {fake.status}"}
        fields = json.loads(body) if body else {}
        route = {"github": github_route, "gitlab": gitlab_route, "ssm": ssm_route}[fake.kind]
        return route(fake, self.command, self.path, fields)

    def _authorized(self) -> bool:
        token = self.fake.token
        bearer = self.headers.get("Authorization") in (f"Bearer {token}", f"token {token}")
        private = self.fake.kind == "gitlab" and self.headers.get("PRIVATE-TOKEN") == token
        return bearer or private

    def _send(self, code: int, data: Any, *, location: str | None = None) -> None:
        page = isinstance(data, str)
        raw = data.encode() if page else json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html" if page else "application/json")
        self.send_header("Content-Length", str(len(raw)))
        if location:
            self.send_header("Location", location)
        for name, value in self.fake.answer_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


# GitHub --------------------------------------------------------------------------------------

_GITHUB_PULLS = re.compile(r"^/repos/([^/]+/[^/]+)/pulls(?:/(\d+)(/merge)?)?$")
DOCS = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
_GITHUB_NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


def github_route(fake: ForgeFake, method: str, path: str, fields: Obj) -> Answer:
    parts = urlsplit(path)
    if parts.path == "/graphql" and method == "POST":
        return github_graphql(fake, fields)
    match = _GITHUB_PULLS.match(parts.path)
    if not match or match[1] != fake.repository:
        return 404, _GITHUB_NOT_FOUND
    if match[2] is None:
        if method == "POST":
            return github_create(fake, fields)
        return 200, github_list(fake, parse_qs(parts.query))
    pull = fake.pulls.get(int(match[2]))
    if pull is None:
        return 404, _GITHUB_NOT_FOUND
    if match[3]:
        return github_merge(fake, pull)
    if method == "PATCH":
        with fake.lock:
            pull.update({k: v for k, v in fields.items() if k in ("title", "body", "state")})
    return 200, pull


def github_create(fake: ForgeFake, fields: Obj) -> Answer:
    if fake.create_gate:
        fake.create_gate.wait()
    with fake.lock:
        if fake.open_pulls(fields["head"]):
            owner = fake.repository.split("/")[0]
            taken = f"A pull request already exists for {owner}:{fields['head']}."
            error = {"resource": "PullRequest", "code": "custom", "message": taken}
            return 422, {
                "message": "Validation Failed",
                "errors": [error],
                "documentation_url": DOCS,
            }
        return 201, fake._create(fields)


def held_at_list_gate(fake: ForgeFake, answer: list[Obj]) -> list[Obj]:
    """`answer`, as it was when asked; the first `gated_lists` list requests are answered only
    once the test opens `list_gate` (what was created meanwhile is not in them)."""
    with fake.lock:
        held = fake.gated_lists > 0
        fake.gated_lists -= held
    if held:
        fake.list_gate.wait(HANG_SECONDS)
    return answer


def github_list(fake: ForgeFake, query: dict[str, list[str]]) -> list[Obj]:
    return held_at_list_gate(fake, github_listed(fake, query))


def github_listed(fake: ForgeFake, query: dict[str, list[str]]) -> list[Obj]:
    with fake.lock:
        if fake.stale_lists:
            fake.stale_lists -= 1
            return []
        owner = fake.repository.split("/")[0]
        wanted = query.get("head", [""])[0]
        state = query.get("state", ["open"])[0]
        base = query.get("base", [None])[0]
        found = [
            {k: v for k, v in p.items() if k != "merged"}  # the list leaves out `merged`
            for p in fake.pulls.values()
            if f"{owner}:{p['head']['ref']}" == wanted
            and state in (p["state"], "all")
            and base in (None, p["base"]["ref"])
        ]
        return found


def github_merge(fake: ForgeFake, pull: Obj) -> Answer:
    with fake.lock:
        if pull["state"] != "open":
            return 405, {"message": "Pull Request is not mergeable"}
        _set_merged("github", pull)
    return 200, {
        "sha": _sha("merge"),
        "merged": True,
        "message": "Pull Request successfully merged",
    }


def github_graphql(fake: ForgeFake, fields: Obj) -> Answer:
    if "enablePullRequestAutoMerge" not in fields.get("query", ""):
        return 200, {"errors": [{"message": "fake: only enablePullRequestAutoMerge is served"}]}
    node_id = fields.get("variables", {}).get("id")
    with fake.lock:
        pull = next((p for p in fake.pulls.values() if p["node_id"] == node_id), None)
        if pull is None:
            unknown = f"Could not resolve to a node with the global id of '{node_id}'"
            return 200, _graphql_error("NOT_FOUND", unknown)
        if fake.auto_merge_refusal:
            return 200, _graphql_error(*fake.auto_merge_refusal)
        if fake.checks_pass:  # auto-merge is for a pull request that waits for something
            clean = "Pull request Pull request is in clean status"
            return 200, _graphql_error("UNPROCESSABLE", clean)
        pull["auto_merge"] = {"merge_method": "merge", "enabled_by": {"login": "promoter"}}
    mutation = {"enablePullRequestAutoMerge": {"pullRequest": {"number": pull["number"]}}}
    return 200, {"data": mutation}


def _graphql_error(kind: str, message: str) -> Obj:
    error = {
        "type": kind,
        "path": ["enablePullRequestAutoMerge"],
        "locations": [{"line": 3, "column": 3}],
        "message": message,
    }
    return {"data": {"enablePullRequestAutoMerge": None}, "errors": [error]}


# GitLab --------------------------------------------------------------------------------------

_GITLAB_REQUESTS = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests(?:/(\d+)(/merge)?)?$")


def gitlab_route(fake: ForgeFake, method: str, path: str, fields: Obj) -> Answer:
    parts = urlsplit(path)
    match = _GITLAB_REQUESTS.match(parts.path)  # the project's path must come URL-encoded
    if not match or match[1] != quote(fake.repository, safe=""):
        return 404, {"message": "404 Project Not Found"}
    if match[2] is None:
        if method == "POST":
            return gitlab_create(fake, fields)
        return 200, gitlab_list(fake, parse_qs(parts.query))
    request = fake.pulls.get(int(match[2]))
    if request is None:
        return 404, {"message": "404 Not found"}
    if match[3]:
        return gitlab_merge(fake, request, fields)
    if method == "PUT":
        with fake.lock:
            gitlab_edit(request, fields)
    return 200, request


def gitlab_create(fake: ForgeFake, fields: Obj) -> Answer:
    if fake.create_gate:
        fake.create_gate.wait()
    with fake.lock:
        taken = fake.open_pulls(fields["source_branch"])
        if taken:
            said = "Another open merge request already exists for this source branch"
            return 409, {"message": [f"{said}: !{taken[0]['iid']}"]}
        mine = {"head": fields["source_branch"], "base": fields["target_branch"]}
        return 201, fake._create({**fields, **mine, "body": fields.get("description")})


def gitlab_list(fake: ForgeFake, query: dict[str, list[str]]) -> list[Obj]:
    return held_at_list_gate(fake, gitlab_listed(fake, query))


def gitlab_listed(fake: ForgeFake, query: dict[str, list[str]]) -> list[Obj]:
    with fake.lock:
        if fake.stale_lists:
            fake.stale_lists -= 1
            return []
        source = query.get("source_branch", [None])[0]
        target = query.get("target_branch", [None])[0]
        state = query.get("state", ["all"])[0]
        return [
            p
            for p in fake.pulls.values()
            if source in (None, p["source_branch"])
            and target in (None, p["target_branch"])
            and state in (p["state"], "all")
        ]


def gitlab_edit(request: Obj, fields: Obj) -> None:
    request.update({k: v for k, v in fields.items() if k in ("title", "description")})
    if fields.get("state_event") == "close" and request["state"] == "opened":
        request["state"] = "closed"


def gitlab_merge(fake: ForgeFake, request: Obj, fields: Obj) -> Answer:
    with fake.lock:
        if request["state"] != "opened":
            return 405, {"message": "405 Method Not Allowed"}
        if fake.checks_pass:
            _set_merged("gitlab", request)
        elif fields.get("merge_when_pipeline_succeeds") or fields.get("auto_merge"):
            request["merge_when_pipeline_succeeds"] = True
        else:
            return 405, {"message": "405 Method Not Allowed"}  # the pipeline has not passed
    return 200, request


# Secure Source Manager ------------------------------------------------------------------------

SSM_REPOSITORY = "projects/demo-shop/locations/us-central1/repositories/shop"
PROJECT_NUMBER = "123456789012"
_SSM_PULLS = re.compile(
    r"^/v1/(projects/[^/]+/locations/[^/]+/repositories/[^/]+)/pullRequests"
    r"(?:/(\d+)(?::(close|merge|open))?)?$"
)
_SSM_OPERATION = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/operations/[^/]+)$")
_SSM_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login"
    " cookie or other valid authentication credential."
)
_TYPES = "type.googleapis.com/google.cloud.securesourcemanager.v1."


def google_error(code: int, status: str, message: str) -> Obj:
    """Google's JSON error body."""
    return {"error": {"code": code, "message": message, "status": status}}


def ssm_named(fake: ForgeFake, name: str) -> str:
    """`name` as the fake's answers give it: with the project's number where they do."""
    if not fake.names_by_number:
        return name
    return "/".join([name.split("/")[0], PROJECT_NUMBER, *name.split("/")[2:]])


def _ssm_pull(repository: str, number: int, fields: Obj) -> Obj:
    pull = {
        "name": f"{repository}/pullRequests/{number}",
        "title": fields["title"],
        "base": {"ref": fields["base"]},
        "head": {"ref": fields["head"], "sha": _sha(number)},
        "state": "OPEN",
        "createTime": "2026-03-02T09:00:00Z",
        "updateTime": "2026-03-02T09:00:00Z",
    }
    if fields.get("body"):  # proto3 JSON leaves out an empty string
        pull["body"] = fields["body"]
    return pull


def _ssm_same_repository(fake: ForgeFake, repository: str) -> bool:
    """The path names the fake's repository, its project by ID or by number."""
    parts, mine = repository.split("/"), fake.repository.split("/")
    return parts[2:] == mine[2:] and parts[1] in (mine[1], PROJECT_NUMBER)


def ssm_route(fake: ForgeFake, method: str, path: str, fields: Obj) -> Answer:
    parts = urlsplit(path)
    operation = _SSM_OPERATION.match(parts.path)
    if operation and method == "GET":
        return ssm_poll(fake, operation[1])
    match = _SSM_PULLS.match(parts.path)
    if not match or not _ssm_same_repository(fake, match[1]):
        return 404, google_error(404, "NOT_FOUND", f"Resource '{parts.path[4:]}' was not found")
    if match[2] is None:
        if method == "POST":
            return ssm_create(fake, fields)
        return 200, ssm_list(fake, parse_qs(parts.query))
    pull = fake.pulls.get(int(match[2]))
    if pull is None:
        return 404, google_error(404, "NOT_FOUND", "pull request not found")
    if match[3] and method == "POST":
        return ssm_action(fake, pull, match[3])
    if method == "PATCH":
        return ssm_patch(fake, pull, fields, parse_qs(parts.query))
    return 200, pull


def ssm_operation(fake: ForgeFake, verb: str, pull: Obj | None) -> Answer:
    """A long-running Operation for `verb` on `pull`: done at once, or after `running_polls`."""
    project, location = fake.repository.split("/")[1:4:2]
    name = ssm_named(fake, f"projects/{project}/locations/{location}/operations/")
    name += f"operation-{len(fake.operations) + 1:04d}-{_sha(verb)[:8]}"
    metadata = {
        "@type": _TYPES + "OperationMetadata",
        "createTime": "2026-03-02T09:00:00Z",
        "target": pull["name"] if pull else fake.repository,
        "verb": verb,
        "apiVersion": "v1",
    }
    operation: Obj = {"name": name, "metadata": metadata, "done": True}
    if fake.operation_error:
        code, message = fake.operation_error
        operation["error"] = {"code": code, "message": message}
    else:
        operation["response"] = {"@type": _TYPES + "PullRequest", **(pull or {})}
    held = {"operation": operation, "polls": fake.running_polls}
    fake.operations[name] = held
    return _as_polled(held)


def ssm_poll(fake: ForgeFake, name: str) -> Answer:
    with fake.lock:
        held = fake.operations.get(name)
        if held is None:
            return 404, google_error(404, "NOT_FOUND", f"operation {name} not found")
        return _as_polled(held)


def _as_polled(held: Obj) -> Answer:
    """The operation as it is now: still running while polls are left (the caller holds the
    lock)."""
    operation = held["operation"]
    if held["polls"] > 0:
        held["polls"] -= 1
        running = {k: v for k, v in operation.items() if k not in ("response", "error")}
        return 200, running | {"done": False}
    return 200, operation


def ssm_create(fake: ForgeFake, fields: Obj) -> Answer:
    if fake.create_gate:
        fake.create_gate.wait()
    head, base = fields.get("head", {}).get("ref"), fields.get("base", {}).get("ref")
    if not (head and base and fields.get("title")):
        return 400, google_error(400, "INVALID_ARGUMENT", "title, base and head are required")
    with fake.lock:
        if fake.operation_error:
            return ssm_operation(fake, "create", None)
        mine = {"head": head, "base": base, "title": fields["title"], "body": fields.get("body")}
        return ssm_operation(fake, "create", fake._create(mine))


def ssm_list(fake: ForgeFake, query: dict[str, list[str]]) -> Obj:
    with fake.lock:
        if fake.stale_lists:
            fake.stale_lists -= 1
            return {}
        size = min(int(query.get("pageSize", ["30"])[0]) or 30, 100, fake.page_size)
        start = int(query.get("pageToken", ["offset-0"])[0].removeprefix("offset-"))
        pulls = list(fake.pulls.values())
        page: Obj = {"pullRequests": pulls[start : start + size]} if pulls[start:] else {}
        if start + size < len(pulls):
            page["nextPageToken"] = f"offset-{start + size}"
    return held_at_list_gate(fake, [page])[0]


def ssm_patch(fake: ForgeFake, pull: Obj, fields: Obj, query: dict[str, list[str]]) -> Answer:
    # Without a mask the real API would replace the whole pull request; the fake refuses that.
    mask = query.get("updateMask", [""])[0].split(",")
    if mask == [""] or not set(mask) <= {"title", "body"}:
        return 400, google_error(400, "INVALID_ARGUMENT", f"update_mask {mask} not supported")
    with fake.lock:
        if not fake.operation_error:
            pull.update({k: fields[k] for k in mask if k in fields})
        return ssm_operation(fake, "update", pull)


def ssm_action(fake: ForgeFake, pull: Obj, action: str) -> Answer:
    with fake.lock:
        if pull["state"] != "OPEN" and action != "open":
            return 400, google_error(400, "FAILED_PRECONDITION", f"pull request is {pull['state']}")
        if not fake.operation_error:
            if action == "close":
                pull.update(state="CLOSED", closeTime="2026-03-02T10:00:00Z")
            elif action == "merge":
                _set_merged("ssm", pull)
        return ssm_operation(fake, action, pull)


@contextlib.contextmanager
def serving(kind: Kind, *, repository: str | None = None, token: str) -> Iterator[ForgeFake]:
    """A forge on loopback; stopped, and its threads joined, when the block ends."""
    default = SSM_REPOSITORY if kind == "ssm" else "demo-shop/shop"
    fake = ForgeFake(kind, repository or default, token)
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = _Server(("127.0.0.1", 0), handler)
    root = {"github": "", "gitlab": "/api/v4", "ssm": "/v1"}[kind]
    fake.url = f"http://127.0.0.1:{server.server_address[1]}{root}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{kind}-fake"
    )
    thread.start()
    try:
        yield fake
    finally:
        fake.stopping.set()
        fake.list_gate.set()
        if fake.create_gate:
            fake.create_gate.abort()
        server.shutdown()
        server.server_close()
        thread.join()
