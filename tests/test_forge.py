"""The forge clients against GitHub's and GitLab's APIs as stand-ins on loopback serve them."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from promoter.errors import ConfigError
from promoter.forge import Forge, connect, ensure
from promoter.forge_github import graphql_root
from promoter.forgeapi import ForgeUnavailable
from promoter.pullrequests import PullRequest, WriteMode, head_branch
from promoter.settings import Settings

from .conftest import WEB, WORKER, free_port
from .forge_fake import ForgeFake, serving

TOKEN = "glpat-s3cret-Tok3n-0123456789"
KINDS = ["github", "gitlab"]
BASE = "main"
HEAD = head_branch(BASE, WEB)

Make = Callable[..., tuple[ForgeFake, Forge]]


@pytest.fixture
def make_forge() -> Iterator[Make]:
    """A factory: a stand-in forge of a kind, and our client for it; all stopped afterwards."""
    before = set(threading.enumerate())
    with contextlib.ExitStack() as stack:

        def make(
            kind: str, *, repository: str = "demo-shop/shop", timeout: float = 5.0, **faults: Any
        ) -> tuple[ForgeFake, Forge]:
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
    return f"https://gitlab.example.com/{fake.repository}/-/merge_requests/{number}"


def fields(fake: ForgeFake, number: int) -> tuple[str, str, str, str]:
    """A pull request's head, base, title and body as the forge holds them."""
    pull = fake.pulls[number]
    if fake.kind == "github":
        return pull["head"]["ref"], pull["base"]["ref"], pull["title"], pull["body"]
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


@pytest.mark.parametrize("kind", KINDS)
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


@pytest.mark.parametrize("kind", KINDS)
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
    client.enable_auto_merge(pr)
    client.close(pr)
    header = "authorization" if kind == "github" else "private-token"
    expected = f"Bearer {TOKEN}" if kind == "github" else TOKEN
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
    header = "authorization" if kind == "github" else "private-token"
    assert TOKEN in fake.seen[0].headers[header]  # sent, and quoted back in the answer
    assert TOKEN not in error_text(caught.value)
    assert "***" in str(caught.value)  # the forge's words are quoted, redacted
    if status != 500:
        needs = "pull requests" if kind == "github" else "api scope"
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
    write = WriteMode("pull-request", kind, "demo-shop/other")  # type: ignore[arg-type]
    client = connect(write, api=fake.url, token=TOKEN)
    with pytest.raises(ConfigError, match=r"write\.repository: .* 'demo-shop/other'"):
        propose(client)


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_is_not_followed_with_the_token(make_forge: Make, kind: str) -> None:
    elsewhere, _ = make_forge(kind)
    fake, client = make_forge(kind, redirect_to=elsewhere.url.removesuffix("/api/v4"))
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
