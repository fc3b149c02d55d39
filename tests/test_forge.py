"""The forge clients against GitHub's, GitLab's and Secure Source Manager's APIs as stand-ins on
loopback serve them."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from promoter.errors import ConfigError
from promoter.forge import Forge, connect, ensure
from promoter.forge_github import graphql_root
from promoter.forgeapi import ForgeUnavailable
from promoter.pullrequests import PullRequest, WriteMode, head_branch
from promoter.settings import Settings

from .conftest import WEB, WORKER, free_port
from .forge_fake import SSM_REPOSITORY, ForgeFake, serving

TOKEN = "glpat-s3cret-Tok3n-0123456789"
KINDS = ["github", "gitlab", "ssm"]
REFUSING = ["github", "gitlab"]  # the forges that answer a second create "already exists"
REPOSITORIES = {"github": "demo-shop/shop", "gitlab": "demo-shop/shop", "ssm": SSM_REPOSITORY}
OTHER = {
    "github": "demo-shop/other",
    "gitlab": "demo-shop/other",
    "ssm": "projects/demo-shop/locations/us-central1/repositories/other",
}
BASE = "main"
HEAD = head_branch(BASE, WEB)

Make = Callable[..., tuple[ForgeFake, Forge]]


@pytest.fixture
def make_forge() -> Iterator[Make]:
    """A factory: a stand-in forge of a kind, and our client for it; all stopped afterwards."""
    before = set(threading.enumerate())
    with contextlib.ExitStack() as stack:

        def make(
            kind: str, *, repository: str | None = None, timeout: float = 5.0, **faults: Any
        ) -> tuple[ForgeFake, Forge]:
            repository = repository or REPOSITORIES[kind]
            fake = stack.enter_context(serving(kind, repository=repository, token=TOKEN))  # type: ignore[arg-type]
            for name, value in faults.items():
                setattr(fake, name, value)
            write = WriteMode("pull-request", kind, repository)  # type: ignore[arg-type]
            return fake, connect(write, api=fake.url, token=TOKEN, timeout=timeout)

        yield make
    assert set(threading.enumerate()) <= before, "a stand-in left a thread behind"


def propose(client: Forge, head: str = HEAD, title: str = "Promote web") -> PullRequest:
    return ensure(client, base=BASE, head=head, title=title, body=f"{title}\n")


def web_url(fake: ForgeFake, number: int) -> str:
    if fake.kind == "github":
        return f"https://github.com/{fake.repository}/pull/{number}"
    if fake.kind == "ssm":  # SSM's API gives no web address: the resource name stands in
        return f"{fake.repository}/pullRequests/{number}"
    return f"https://gitlab.example.com/{fake.repository}/-/merge_requests/{number}"


def fields(fake: ForgeFake, number: int) -> tuple[str, str, str, str]:
    """A pull request's head, base, title and body as the forge holds them."""
    pull = fake.pulls[number]
    if fake.kind in ("github", "ssm"):
        return pull["head"]["ref"], pull["base"]["ref"], pull["title"], pull.get("body", "")
    return pull["source_branch"], pull["target_branch"], pull["title"], pull["description"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_first_build_opens_a_pull_request(make_forge: Make, kind: str) -> None:
    fake, client = make_forge(kind)
    pr = propose(client)
    assert pr == PullRequest(1, web_url(fake, 1), created=True)
    assert pr.to_json() == {"number": 1, "url": web_url(fake, 1)}
    assert fields(fake, 1) == (HEAD, BASE, "Promote web", "Promote web\n")
    assert client.state(pr) == "open"


@pytest.mark.parametrize("kind", KINDS)
def test_a_newer_build_updates_the_same_pull_request(make_forge: Make, kind: str) -> None:
    fake, client = make_forge(kind)
    first = propose(client, title="Promote web@aaa")
    again = propose(client, title="Promote web@bbb")
    assert (again.number, again.created) == (first.number, False)
    assert len(fake.pulls) == 1
    assert fields(fake, 1)[2:] == ("Promote web@bbb", "Promote web@bbb\n")


@pytest.mark.parametrize("kind", KINDS)
def test_each_image_gets_its_own_pull_request(make_forge: Make, kind: str) -> None:
    fake, client = make_forge(kind)
    web, worker = propose(client), propose(client, head=head_branch(BASE, WORKER))
    assert (web.number, worker.number) == (1, 2)
    assert [fields(fake, n)[0] for n in (1, 2)] == [HEAD, head_branch(BASE, WORKER)]


@pytest.mark.parametrize("kind", REFUSING)
def test_two_instances_racing_share_one_pull_request(make_forge: Make, kind: str) -> None:
    # Both find none, then both create at once: the forge opens one and refuses the other.
    fake, client = make_forge(kind, create_gate=threading.Barrier(2, timeout=5))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda n: propose(client, title=f"build {n}"), range(2)))
    assert [r.number for r in results] == [1, 1]
    assert sorted(r.created for r in results) == [False, True]
    assert len(fake.pulls) == 1
    refused = 422 if kind == "github" else 409
    assert sorted(code for method, _, code in fake.answered if method == "POST") == [201, refused]


@pytest.mark.parametrize("kind", REFUSING)
def test_already_exists_is_found_even_while_the_list_lags(make_forge: Make, kind: str) -> None:
    fake, client = make_forge(kind)
    fake.add(base=BASE, head=HEAD)  # another instance, a moment ago
    fake.stale_lists = 2  # the forge's list does not show it yet
    pr = propose(client, title="Promote web@ccc")
    assert (pr.number, pr.created, len(fake.pulls)) == (1, False, 1)
    refused = 422 if kind == "github" else 409
    assert [code for method, _, code in fake.answered if method == "POST"] == [refused, refused]
    assert fields(fake, 1)[2] == "Promote web@ccc"


@pytest.mark.parametrize("kind", KINDS)
def test_after_a_merge_the_next_build_opens_a_new_one(make_forge: Make, kind: str) -> None:
    fake, client = make_forge(kind)
    first = propose(client)
    fake.merge(first.number)
    assert client.state(first) == "merged"
    second = propose(client)
    assert (second.number, second.created) == (2, True)
    assert client.state(first) == "merged" and client.state(second) == "open"


@pytest.mark.parametrize("kind", KINDS)
def test_close_closes_without_merging(make_forge: Make, kind: str) -> None:
    fake, client = make_forge(kind)
    pr = propose(client)
    client.close(pr)
    assert client.state(pr) == "closed"
    assert fake.open_pulls() == []
    assert propose(client).number == 2


def test_github_auto_merge_waits_for_the_checks(make_forge: Make) -> None:
    fake, client = make_forge("github")
    pr = propose(client)
    assert client.enable_auto_merge(pr) == "enabled"
    assert fake.pulls[1]["auto_merge"] is not None and client.state(pr) == "open"
    graphql = [s for s in fake.seen if s.path == "/graphql"]
    assert json.loads(graphql[0].body)["variables"] == {"id": fake.pulls[1]["node_id"]}


def test_github_merges_at_once_what_auto_merge_calls_clean(make_forge: Make) -> None:
    fake, client = make_forge("github", checks_pass=True)
    pr = propose(client)
    assert client.enable_auto_merge(pr) == "merged"
    assert client.state(pr) == "merged"
    assert ("PUT", "/repos/demo-shop/shop/pulls/1/merge") in [(s.method, s.path) for s in fake.seen]


@pytest.mark.parametrize(
    "refusal, message",
    [
        (
            ("UNPROCESSABLE", "Pull request Auto merge is not allowed for this repository"),
            "would not enable auto-merge .* Auto merge is not allowed for this repository",
        ),
        (
            ("FORBIDDEN", "Resource not accessible by integration"),
            "PROMOTER_FORGE_TOKEN: GitHub refused it .* pull requests",
        ),
    ],
)
def test_github_auto_merge_refused_is_a_config_error(
    make_forge: Make, refusal: tuple[str, str], message: str
) -> None:
    _, client = make_forge("github", auto_merge_refusal=refusal)
    pr = propose(client)
    with pytest.raises(ConfigError, match=message):
        client.enable_auto_merge(pr)


def test_github_auto_merge_finds_the_node_id_when_it_is_not_known(make_forge: Make) -> None:
    fake, client = make_forge("github")
    pr = propose(client)
    assert client.enable_auto_merge(PullRequest(pr.number, pr.url)) == "enabled"
    assert fake.pulls[1]["auto_merge"] is not None


@pytest.mark.parametrize("checks_pass, outcome", [(False, "enabled"), (True, "merged")])
def test_gitlab_merges_when_the_pipeline_succeeds(
    make_forge: Make, checks_pass: bool, outcome: str
) -> None:
    fake, client = make_forge("gitlab", checks_pass=checks_pass)
    pr = propose(client)
    assert client.enable_auto_merge(pr) == outcome
    assert client.state(pr) == ("merged" if checks_pass else "open")
    merge = next(s for s in fake.seen if s.path.endswith("/merge"))
    assert json.loads(merge.body)["merge_when_pipeline_succeeds"] is True


def test_gitlab_names_a_nested_project_by_its_encoded_path(make_forge: Make) -> None:
    fake, client = make_forge("gitlab", repository="demo-shop/platform/shop")
    propose(client)
    assert fake.seen[0].path.startswith("/api/v4/projects/demo-shop%2Fplatform%2Fshop/")


@pytest.mark.parametrize("kind", KINDS)
def test_the_token_travels_only_in_its_header(make_forge: Make, kind: str) -> None:
    fake, client = make_forge(kind)
    pr = propose(client)
    propose(client, title="again")
    if kind != "ssm":  # SSM has no auto-merge
        client.enable_auto_merge(pr)
    client.state(pr)
    client.close(pr)
    header = "private-token" if kind == "gitlab" else "authorization"
    expected = TOKEN if kind == "gitlab" else f"Bearer {TOKEN}"
    for seen in fake.seen:
        assert TOKEN not in seen.path and TOKEN not in seen.body
        carrying = {name for name, value in seen.headers.items() if TOKEN in value}
        assert carrying == {header} and seen.headers[header] == expected


def error_text(err: BaseException) -> str:
    return "".join(traceback.format_exception(err)) + repr(err)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [401, 403, 500])
def test_an_answer_quoting_the_token_is_redacted(make_forge: Make, kind: str, status: int) -> None:
    fake, client = make_forge(kind, echo=True, status=status)
    expected = ForgeUnavailable if status == 500 else ConfigError
    with pytest.raises(expected) as caught:
        propose(client)
    header = "private-token" if kind == "gitlab" else "authorization"
    assert TOKEN in fake.seen[0].headers[header]  # sent, and quoted back in the answer
    assert TOKEN not in error_text(caught.value)
    assert "***" in str(caught.value)  # the forge's words are quoted, redacted
    if status != 500:
        needs = {"github": "pull requests", "gitlab": "api scope", "ssm": "repoWriter"}[kind]
        assert "PROMOTER_FORGE_TOKEN" in str(caught.value) and needs in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_page_quoting_the_token_where_the_quote_is_cut_is_redacted(
    make_forge: Make, kind: str
) -> None:
    page = "<html>" + "x" * 280 + f" token {TOKEN} rejected</html>"  # the cut falls in the token
    _, client = make_forge(kind, status=502, page=page)
    with pytest.raises(ForgeUnavailable, match="502") as caught:
        propose(client)
    assert TOKEN[:6] not in error_text(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_wrong_token_is_a_config_error(make_forge: Make, kind: str) -> None:
    _, client = make_forge(kind, token="another")
    with pytest.raises(ConfigError, match=r"PROMOTER_FORGE_TOKEN: .* refused it"):
        propose(client)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [429, 502, 503])
def test_a_forge_down_or_throttling_is_transient(make_forge: Make, kind: str, status: int) -> None:
    _, client = make_forge(kind, status=status)
    with pytest.raises(ForgeUnavailable, match=str(status)):
        propose(client)


def test_github_rate_limit_is_transient_though_it_is_a_403(make_forge: Make) -> None:
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1772445600"}
    _, client = make_forge("github", status=403, answer_headers=limited)
    with pytest.raises(ForgeUnavailable, match="403"):
        propose(client)


@pytest.mark.parametrize("kind", KINDS)
def test_a_hung_forge_is_transient_within_the_deadline(make_forge: Make, kind: str) -> None:
    _, client = make_forge(kind, hang=True, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ForgeUnavailable, match=r"did not answer within 0\.5 s"):
        propose(client)
    assert time.monotonic() - started < 3


def test_a_forge_that_is_not_there_is_transient() -> None:
    write = WriteMode("pull-request", "github", "demo-shop/shop")
    gone = connect(write, api=f"http://127.0.0.1:{free_port()}", token=TOKEN, timeout=2)
    with pytest.raises(ForgeUnavailable, match="unreachable") as caught:
        propose(gone)
    assert TOKEN not in error_text(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_another_repository_is_a_config_error_naming_it(make_forge: Make, kind: str) -> None:
    fake, _ = make_forge(kind)
    write = WriteMode("pull-request", kind, OTHER[kind])  # type: ignore[arg-type]
    client = connect(write, api=fake.url, token=TOKEN)
    with pytest.raises(ConfigError, match=rf"write\.repository: .* '{OTHER[kind]}'"):
        propose(client)


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_is_not_followed_with_the_token(make_forge: Make, kind: str) -> None:
    elsewhere, _ = make_forge(kind)
    host = urlsplit(elsewhere.url)._replace(path="").geturl()
    fake, client = make_forge(kind, redirect_to=host)
    with pytest.raises(ConfigError, match="redirects"):
        propose(client)
    assert len(fake.seen) == 1 and elsewhere.seen == []


@pytest.mark.parametrize(
    "api",
    ["http://forge.example.com", "http://10.0.0.7/api/v4", "ftp://127.0.0.1", "file:///etc"],
)
def test_the_token_is_not_sent_over_plain_http_to_another_host(api: str) -> None:
    write = WriteMode("pull-request", "gitlab", "demo-shop/shop")
    with pytest.raises(ConfigError, match="PROMOTER_FORGE_") as caught:
        connect(write, api=api, token=TOKEN)
    assert TOKEN not in error_text(caught.value)


@pytest.mark.parametrize("api", ["https://ghe.example.com/api/v3", "http://[::1]:8080", None])
def test_https_and_loopback_may_carry_the_token(api: str | None) -> None:
    client: Any = connect(WriteMode("pull-request", "github", "o/r"), api=api, token=TOKEN)
    assert client.api.root == (api or "https://api.github.com")
    assert TOKEN not in repr(client.api)


def test_the_token_is_required_in_pull_request_mode() -> None:
    with pytest.raises(ConfigError, match="PROMOTER_FORGE_TOKEN: required"):
        connect(WriteMode("pull-request", "github", "o/r"), api=None, token=None)


def test_github_enterprise_has_graphql_beside_its_rest_api() -> None:
    assert graphql_root("https://ghe.example.com/api/v3") == "https://ghe.example.com/api/graphql"
    assert graphql_root("https://api.github.com") == "https://api.github.com/graphql"


def test_settings_take_the_forge_from_the_deployment(tmp_path: Path) -> None:
    api = "https://gitlab.example.com/api/v4"
    environ = {"PROMOTER_FORGE_API": api, "PROMOTER_FORGE_TOKEN": TOKEN}
    settings = Settings.build(repo=str(tmp_path), environ=environ)
    assert (settings.forge_api, settings.forge_token) == (api, TOKEN)
    assert TOKEN not in repr(settings)
    bare = Settings.build(repo=str(tmp_path), environ={})
    assert (bare.forge_api, bare.forge_token) == (None, None)


def test_github_still_deciding_whether_it_can_merge_is_transient(make_forge: Make) -> None:
    unknown = ("UNPROCESSABLE", "Pull request Pull request is in unknown status")
    fake, client = make_forge("github", auto_merge_refusal=unknown)
    pr = propose(client)
    with pytest.raises(ForgeUnavailable, match="unknown status"):
        client.enable_auto_merge(pr)
    assert client.state(pr) == "open" and not any(s.path.endswith("/merge") for s in fake.seen)


# Secure Source Manager ------------------------------------------------------------------------
# No "already exists", no head filter, writes as long-running operations, Google's errors.


def seen(fake: ForgeFake, method: str) -> list[str]:
    return [s.path for s in fake.seen if s.method == method]


def test_ssm_opens_a_pull_request_through_its_operation(make_forge: Make) -> None:
    fake, client = make_forge("ssm", running_polls=2)
    pr = propose(client)
    assert pr == PullRequest(1, f"{SSM_REPOSITORY}/pullRequests/1", created=True)
    [create] = [s for s in fake.seen if s.method == "POST"]
    assert create.path == f"/v1/{SSM_REPOSITORY}/pullRequests"
    assert json.loads(create.body) == {
        "title": "Promote web",
        "body": "Promote web\n",
        "base": {"ref": BASE},
        "head": {"ref": HEAD},
    }
    polls = [p for p in seen(fake, "GET") if "/operations/" in p]
    assert len(polls) == 2 and polls[0] == polls[1]  # polled until done, then no more
    assert polls[0].startswith("/v1/projects/demo-shop/locations/us-central1/operations/")


def test_ssm_finds_its_pull_request_on_a_later_page(make_forge: Make) -> None:
    fake, client = make_forge("ssm", page_size=2)
    for n in range(5):  # other heads, other bases, a closed one of ours
        fake.add(base=BASE if n % 2 else "release", head=head_branch(BASE, f"{WORKER}{n}"))
    fake.add(base="release", head=HEAD)
    fake.add(base=BASE, head=HEAD)["state"] = "CLOSED"
    fake.add(base=BASE, head=HEAD)  # number 8, on the fourth page
    found = client.find_open(base=BASE, head=HEAD)
    assert found == PullRequest(8, f"{SSM_REPOSITORY}/pullRequests/8")
    lists = [p for p in seen(fake, "GET") if p.split("?")[0].endswith("/pullRequests")]
    assert len(lists) == 4
    assert "pageSize=100" in lists[0] and "pageToken" not in lists[0]
    assert [p.split("pageToken=")[1] for p in lists[1:]] == ["offset-2", "offset-4", "offset-6"]
    assert client.find_open(base=BASE, head=head_branch(BASE, WORKER)) is None


def test_ssm_updates_title_and_body_only_by_update_mask(make_forge: Make) -> None:
    fake, client = make_forge("ssm")
    first = propose(client, title="Promote web@aaa")
    again = propose(client, title="Promote web@bbb")
    assert (again.number, again.created) == (first.number, False)
    [patch] = [s for s in fake.seen if s.method == "PATCH"]
    assert patch.path == f"/v1/{SSM_REPOSITORY}/pullRequests/1?updateMask=title%2Cbody"
    assert json.loads(patch.body) == {"title": "Promote web@bbb", "body": "Promote web@bbb\n"}
    assert fields(fake, 1) == (HEAD, BASE, "Promote web@bbb", "Promote web@bbb\n")


def test_ssm_close_and_state(make_forge: Make) -> None:
    fake, client = make_forge("ssm")
    pr = propose(client)
    assert client.state(pr) == "open"
    client.close(pr)
    assert seen(fake, "POST")[-1] == f"/v1/{SSM_REPOSITORY}/pullRequests/1:close"
    assert client.state(pr) == "closed" and fake.pulls[1]["state"] == "CLOSED"
    merged = propose(client)
    fake.merge(merged.number)
    assert client.state(merged) == "merged"


def test_ssm_two_instances_racing_leave_one_pull_request(make_forge: Make) -> None:
    # Both find none, then both create at once: SSM opens two; the higher one is closed again by
    # the instance that opened it, which then updates the lower one.
    fake, client = make_forge("ssm", create_gate=threading.Barrier(2, timeout=5))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda n: propose(client, title=f"build {n}"), range(2)))
    assert [r.number for r in results] == [1, 1]
    assert sorted(r.created for r in results) == [False, True]
    assert [p["name"].rsplit("/", 1)[1] for p in fake.open_pulls()] == ["1"]
    assert fake.pulls[2]["state"] == "CLOSED"
    assert seen(fake, "POST").count(f"/v1/{SSM_REPOSITORY}/pullRequests/2:close") == 1
    assert f"/v1/{SSM_REPOSITORY}/pullRequests/1:close" not in seen(fake, "POST")


def test_ssm_settles_on_the_lowest_open_and_closes_only_its_own(make_forge: Make) -> None:
    fake, client = make_forge("ssm")
    fake.add(base=BASE, head=HEAD, title="another instance's, a moment ago")
    fake.stale_lists = 1  # our find does not see it yet
    pr = propose(client, title="Promote web@ccc")
    assert (pr.number, pr.created) == (1, False)
    assert fields(fake, 1)[2] == "Promote web@ccc"
    assert [fake.pulls[n]["state"] for n in (1, 2)] == ["OPEN", "CLOSED"]
    fake.add(base=BASE, head=HEAD, title="a duplicate someone else left open")
    assert propose(client).number == 1  # found, not ours to close
    assert fake.pulls[3]["state"] == "OPEN"


def test_ssm_answers_that_name_the_project_by_number(make_forge: Make) -> None:
    fake, client = make_forge("ssm", names_by_number=True)
    pr = propose(client)
    assert pr.url == "projects/123456789012/locations/us-central1/repositories/shop/pullRequests/1"
    propose(client, title="again")
    assert fake.pulls[1]["title"] == "again"
    assert seen(fake, "PATCH")[0].startswith("/v1/projects/123456789012/")


def test_ssm_a_pull_request_of_another_repository_is_not_taken(make_forge: Make) -> None:
    fake, client = make_forge("ssm")
    fake.add(base=BASE, head=HEAD)["name"] = "projects/x/locations/y/repositories/z/pullRequests/1"
    with pytest.raises(ForgeUnavailable, match="unexpected pull request name"):
        client.find_open(base=BASE, head=HEAD)


def test_ssm_an_operation_still_running_at_the_deadline_is_transient(
    make_forge: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("promoter.forge_ssm.OPERATION_SECONDS", 0.3)
    _, client = make_forge("ssm", running_polls=1000)
    started = time.monotonic()
    with pytest.raises(ForgeUnavailable, match=r"still running after 0\.3 s"):
        propose(client)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "code, said, expected, message",
    [
        (7, "caller lacks permission", ConfigError, "PROMOTER_FORGE_TOKEN: .*repoWriter"),
        (14, "backend unavailable", ForgeUnavailable, "503 backend unavailable"),
        (9, "head branch does not exist", ConfigError, "would not open a pull request"),
        (5, "repository gone", ConfigError, "write.repository: .* has no"),
    ],
)
def test_ssm_an_operation_that_fails_says_what_happens_next(
    make_forge: Make, code: int, said: str, expected: type[Exception], message: str
) -> None:
    _, client = make_forge("ssm", operation_error=(code, said))
    with pytest.raises(expected, match=message):
        propose(client)


def test_ssm_auto_merge_is_refused(make_forge: Make) -> None:
    fake, client = make_forge("ssm")
    pr = propose(client)
    with pytest.raises(ConfigError, match=r"write\.autoMerge: .*no auto-merge"):
        client.enable_auto_merge(pr)
    assert fake.pulls[1]["state"] == "OPEN" and not any(":merge" in p for p in seen(fake, "POST"))


def test_ssm_api_is_googles_by_default() -> None:
    write = WriteMode("pull-request", "ssm", SSM_REPOSITORY)
    client: Any = connect(write, api=None, token=TOKEN)
    assert client.api.root == "https://securesourcemanager.googleapis.com/v1"


ACCESS_TOKEN = "ya29.a0-fake-access-token-0123456789"


@contextlib.contextmanager
def token_service() -> Iterator[tuple[str, list[str]]]:
    """Google's OAuth2 token endpoint on loopback: any grant gets ACCESS_TOKEN. Its URL, and the
    grants it was sent."""
    grants: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            grants.append(self.rfile.read(length).decode())
            raw = json.dumps(
                {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token", grants
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def service_account_file(path: Path, token_uri: str) -> Path:
    """A service account key file whose token endpoint is `token_uri` (a fresh key of its own)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    info = {
        "type": "service_account",
        "project_id": "demo-shop",
        "private_key_id": "0123456789abcdef",
        "private_key": pem.decode(),
        "client_email": "promoter@demo-shop.iam.gserviceaccount.com",
        "client_id": "100000000000000000000",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path


def test_ssm_without_a_token_uses_the_service_accounts_own(
    make_forge: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Application Default Credentials, here from a key file whose token endpoint is a stand-in
    # (in Cloud Functions: the metadata server, for the function's service account).
    with token_service() as (token_uri, grants):
        adc = service_account_file(tmp_path / "adc.json", token_uri)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
        fake, _ = make_forge("ssm", token=ACCESS_TOKEN)
        client = connect(WriteMode("pull-request", "ssm", SSM_REPOSITORY), api=fake.url, token=None)
        assert propose(client).number == 1
    [grant] = grants  # one token per client
    assert "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" in grant
    assert {s.headers["authorization"] for s in fake.seen} == {f"Bearer {ACCESS_TOKEN}"}


def test_ssm_a_token_the_forge_refuses_names_the_service_account(
    make_forge: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with token_service() as (token_uri, _):
        adc = service_account_file(tmp_path / "adc.json", token_uri)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
        fake, _ = make_forge("ssm", token="another")
        client = connect(WriteMode("pull-request", "ssm", SSM_REPOSITORY), api=fake.url, token=None)
        with pytest.raises(ConfigError, match=r"^the service account's token .*repoWriter"):
            propose(client)


def test_ssm_without_a_token_or_credentials_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    write = WriteMode("pull-request", "ssm", SSM_REPOSITORY)
    with pytest.raises(ConfigError, match="PROMOTER_FORGE_TOKEN: not set, and no Application"):
        connect(write, api=None, token=None)


def test_ssm_no_token_is_fetched_for_an_address_it_may_not_go_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    write = WriteMode("pull-request", "ssm", SSM_REPOSITORY)
    with pytest.raises(ConfigError, match="PROMOTER_FORGE_TOKEN: only sent over https"):
        connect(write, api="http://forge.example.com/v1", token=None)
