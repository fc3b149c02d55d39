"""The reference deployment's build side, read for real and held to its contract.

`cloudbuild.yaml` builds the web image once, tests inside it, and lets Cloud Build push it;
`promoter/cloudbuild.yaml` deploys the function; `cloudbuild/triggers/` start them; the root
`requirements.txt` and `.gcloudignore` make the function's upload; `app/Dockerfile` makes the
image. Where gcloud is installed, its own loaders and argument parser read the same files, in a
process without network access. The app is served by gunicorn with the image's own command.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest
from ruamel.yaml import YAML
from wcmatch import glob

from promoter.events import from_envelope
from promoter.images import ImageRef
from promoter.policy import Policy
from promoter.settings import Settings

from .conftest import WEB, free_port

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
APP_BUILD = ROOT / "cloudbuild.yaml"
PROMOTER_BUILD = ROOT / "promoter" / "cloudbuild.yaml"
TRIGGERS = ROOT / "cloudbuild" / "triggers"
DEPLOYMENT = ROOT / "manifests" / "base" / "deployment.yaml"

DOCKER = "gcr.io/cloud-builders/docker"
CLOUD_SDK = {"gcr.io/google.com/cloudsdktool/cloud-sdk:slim", "gcr.io/cloud-builders/gcloud"}
# What a builder image runs when a step names no entrypoint.
DEFAULT_ENTRYPOINT = {DOCKER: "docker", "gcr.io/cloud-builders/gcloud": "gcloud"}

# Cloud Build's own substitutions; a user-defined one starts with `_`.
BUILT_IN = frozenset(
    {
        *("PROJECT_ID", "PROJECT_NUMBER", "LOCATION", "BUILD_ID"),
        *("TRIGGER_NAME", "TRIGGER_BUILD_CONFIG_PATH", "SERVICE_ACCOUNT_EMAIL", "SERVICE_ACCOUNT"),
        *("COMMIT_SHA", "REVISION_ID", "SHORT_SHA", "BRANCH_NAME", "TAG_NAME", "REF_NAME"),
        *("REPO_NAME", "REPO_FULL_NAME"),
    }
)
# The values a push to main gives them (as in tests/data/builds/success-template.json).
BUILD_ID = "5d1c0e7a-2b3f-4c5d-8e9f-0a1b2c3d4e5f"
SHORT_SHA = "4be1a9c"
TRIGGERED = {
    "PROJECT_ID": "demo-shop",
    "PROJECT_NUMBER": "123",
    "LOCATION": "global",
    "BUILD_ID": BUILD_ID,
    "COMMIT_SHA": "4be1a9c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2",
    "REVISION_ID": "4be1a9c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2",
    "SHORT_SHA": SHORT_SHA,
    "BRANCH_NAME": "main",
    "REF_NAME": "main",
    "TAG_NAME": "",
    "REPO_NAME": "shop",
    "REPO_FULL_NAME": "demo-shop/shop",
    "TRIGGER_NAME": "web-main",
}
# `$$` is a literal `$`; `$NAME` and `${NAME}` are substitutions; any other `$` is an error.
_DOLLAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))?"
)

CLUSTER_ACCESS = (
    "kubectl",
    "gke-deploy",
    "gcloud container",
    "get-credentials",
    "kubeconfig",
    "helm ",
    "cloudsdk_container_cluster",
    "argocd ",
)


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


def substitute(text: str, values: dict[str, str]) -> str:
    """Apply substitutions as Cloud Build does, or raise KeyError naming the unknown one."""

    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] if match["braced"] is not None else match["bare"]
        if name is None:
            raise KeyError(f"a lone `$` in {text!r}: write `$$` for a literal `$`")
        if name not in values:
            raise KeyError(f"${{{name}}} in {text!r} is neither built in nor in substitutions")
        return values[name]

    return _DOLLAR.sub(one, text)


def references(text: str) -> set[str]:
    return {m["braced"] or m["bare"] for m in _DOLLAR.finditer(text) if not m["escaped"]} - {None}


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def resolve(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return substitute(node, values)
    if isinstance(node, dict):
        return {key: resolve(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, values) for value in node]
    return node


def triggered(path: Path) -> dict[str, Any]:
    """The build config as a triggered build on main runs it: substitutions applied."""
    config = load(path)
    values = {**TRIGGERED, **config.get("substitutions", {})}
    body = {key: value for key, value in config.items() if key != "substitutions"}
    return cast(dict[str, Any], resolve(body, values))


def command(step: dict[str, Any]) -> list[str]:
    """What a step runs: its entrypoint (or the builder's) and its args."""
    entrypoint = step.get("entrypoint") or DEFAULT_ENTRYPOINT.get(step["name"])
    assert entrypoint, f"step {step.get('id')}: {step['name']} needs an explicit entrypoint"
    return [entrypoint, *step.get("args", [])]


def script(step: dict[str, Any]) -> str | None:
    """The shell script of a `bash -c SCRIPT` step."""
    argv = command(step)
    return argv[2] if argv[:2] == ["bash", "-c"] else None


def options(argv: list[str]) -> dict[str, list[str | None]]:
    """`--name=value` and bare `--flag` options; each name to all its values."""
    found: dict[str, list[str | None]] = {}
    for arg in argv:
        assert arg.startswith("--"), f"{arg!r}: expected `--name=value` or `--flag`"
        name, _, value = arg.partition("=")
        found.setdefault(name, []).append(value if "=" in arg else None)
    return found


def docker_run_image(argv: list[str]) -> tuple[str, list[str]]:
    """The image and the command of `docker run [--opt=value|--flag]... IMAGE COMMAND...`."""
    assert argv[:2] == ["docker", "run"]
    rest = argv[2:]
    while rest and rest[0].startswith("-"):
        assert rest[0].startswith("--"), f"{rest[0]}: write docker options as --name[=value]"
        rest = rest[1:]
    return rest[0], rest[1:]


def git_checkout() -> list[str]:
    """The files a triggered build's checkout holds: tracked, plus new files not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    return sorted(path for path in listed if path and (ROOT / path).is_file())


def copy_checkout(target: Path) -> list[str]:
    files = git_checkout()
    for path in files:
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, target / path)
    return files


# --- both build configs --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [APP_BUILD, PROMOTER_BUILD], ids=["app", "promoter"])
def test_substitutions_are_defined_used_and_escaped(path: Path) -> None:
    config = load(path)
    defined = set(config.get("substitutions", {}))
    assert all(re.fullmatch(r"_[A-Z0-9_]+", name) for name in defined), defined
    body = {key: value for key, value in config.items() if key != "substitutions"}
    used: set[str] = set()
    for text in strings(body):
        used |= references(text)
        substitute(text, {**dict.fromkeys(BUILT_IN, ""), **dict.fromkeys(defined, "")})
    # Cloud Build fails a build whose user substitution is defined but never used.
    assert defined <= used, f"defined but unused: {sorted(defined - used)}"
    assert used <= BUILT_IN | defined, f"undefined: {sorted(used - BUILT_IN - defined)}"


@pytest.mark.parametrize("path", [APP_BUILD, PROMOTER_BUILD], ids=["app", "promoter"])
def test_builds_log_to_cloud_logging_and_leave_their_identity_to_the_trigger(path: Path) -> None:
    config = load(path)
    # A build that runs as a user-specified service account needs this (or a logs bucket).
    assert config["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    if path == APP_BUILD:  # the app's images: trust.requireProvenance can ask for this
        assert config["options"]["requestedVerifyOption"] == "VERIFIED"
    assert "serviceAccount" not in config, "the trigger sets the service account"
    match = re.fullmatch(r"(\d+)s", config["timeout"])
    assert match and 300 <= int(match[1]) <= 3600, config["timeout"]
    assert all(
        set(step) <= {"id", "name", "entrypoint", "args", "env", "dir"} for step in config["steps"]
    )
    assert len({step["id"] for step in config["steps"]}) == len(config["steps"])


@pytest.mark.parametrize("path", [APP_BUILD, PROMOTER_BUILD], ids=["app", "promoter"])
def test_no_step_can_reach_the_cluster(path: Path) -> None:
    config = triggered(path)
    assert "availableSecrets" not in config and "secrets" not in config
    for step in config["steps"]:
        text = " ".join(strings(step)).lower()
        found = [word.strip() for word in CLUSTER_ACCESS if word in text]
        assert not found, f"step {step['id']} touches the cluster: {found}"
        assert "secretEnv" not in step, f"step {step['id']} gets secrets"
        argv = command(step)
        if argv[0] == "gcloud":
            assert argv[1] in {"functions"}, f"step {step['id']}: gcloud {argv[1]}"


# --- cloudbuild.yaml: the app --------------------------------------------------------------------


def test_app_build_names_the_image_the_manifests_run() -> None:
    config = load(APP_BUILD)
    assert config["substitutions"] == {
        "_REGION": "europe-west1",
        "_REPOSITORY": "apps",
        "_IMAGE": "web",
    }
    images = triggered(APP_BUILD)["images"]
    assert [image.rsplit(":", 1)[0] for image in images] == [WEB, WEB]
    deployment = load(DEPLOYMENT)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == WEB
    for overlay in ("dev", "prod"):
        kustomization = load(ROOT / "manifests" / "overlays" / overlay / "kustomization.yaml")
        assert [entry["name"] for entry in kustomization["images"]] == [WEB]
    assert [entry["repository"] for entry in load(ROOT / "promoter.yaml")["images"]] == [WEB]
    policy = Policy.from_yaml((ROOT / "promoter.yaml").read_text())
    assert policy.trust.projects == ("demo-shop",) and policy.trust.triggers == ("web-main",)


def test_app_build_builds_once_then_tests_that_image_then_pushes_it() -> None:
    config = triggered(APP_BUILD)
    steps = config["steps"]
    assert all("waitFor" not in step for step in steps), "steps must run one after another"
    argvs = [command(step) for step in steps]
    builds = [i for i, argv in enumerate(argvs) if argv[:2] == ["docker", "build"]]
    assert len(builds) == 1, "build the image exactly once"
    build = argvs[builds[0]]
    assert build[-1] == "app", "the build context is app/"
    tags = [value for value in options(build[2:-1])["--tag"] if value]
    assert tags == [f"{WEB}:{SHORT_SHA}", f"{WEB}:build-{BUILD_ID}"]

    runs = [i for i, argv in enumerate(argvs) if argv[:2] == ["docker", "run"]]
    assert runs and runs[0] > builds[0], "the tests run after the build"
    image, test_command = docker_run_image(argvs[runs[0]])
    # The per-build tag can only be the image this build made.
    assert image == f"{WEB}:build-{BUILD_ID}"
    assert test_command[:3] == ["python", "-m", "pytest"]
    assert "--rm" in argvs[runs[0]]

    # Pushing is the `images:` field's job (after every step), never a step's.
    assert config["images"] == tags
    for step in steps:
        assert "docker push" not in " ".join(strings(step)), f"step {step['id']} pushes"
        assert not re.search(r"\bpush\b", " ".join(command(step)[:2]))


def test_smoke_step_runs_the_built_image_with_its_own_command() -> None:
    steps = triggered(APP_BUILD)["steps"]
    smoke = next(step for step in steps if step["id"] == "smoke")
    text = script(smoke)
    assert text is not None
    runs = [line for line in text.splitlines() if "docker run" in line]
    assert len(runs) == 1 and "--detach" in runs[0] and "--read-only" in runs[0]
    joined = text.replace("\\\n", " ")
    assert f"{WEB}:build-{BUILD_ID}" in joined
    assert "/healthz" in text and "8080" in text
    # The bash script must parse; `$$` must have become `$` for the shell.
    assert "$$" not in text
    subprocess.run(["bash", "-n", "-c", text], check=True)


def test_pushed_images_become_one_promotion_of_the_commit_tag() -> None:
    """What Cloud Build publishes for this config is what the promoter promotes."""
    digest = "sha256:" + "6f1d0b8a3c9e4f2a" * 4
    images = triggered(APP_BUILD)["images"]
    body = json.loads((ROOT / "tests" / "data" / "builds" / "success-template.json").read_text())
    body.update(id=BUILD_ID, images=images)
    body["results"] = {"images": [{"name": name, "digest": digest} for name in images]}
    body["substitutions"] = {
        key: TRIGGERED[key] for key in ("BRANCH_NAME", "COMMIT_SHA", "SHORT_SHA", "TRIGGER_NAME")
    }
    event = from_envelope(body)
    assert event.images == (ImageRef(WEB, digest, SHORT_SHA),)
    assert event.branch == "main"


# --- promoter/cloudbuild.yaml: the function ------------------------------------------------------

FUNCTION_SOURCE = "promoter/main.py"
FUNCTION_FLAGS: dict[str, str | None] = {
    "--gen2": None,
    "--project": "demo-shop",
    "--region": "europe-west1",
    "--runtime": "python312",
    "--source": ".",
    "--entry-point": "on_build_event",
    "--trigger-topic": "cloud-builds",
    "--retry": None,
    "--service-account": "promoter@demo-shop.iam.gserviceaccount.com",
    "--trigger-service-account": "promoter@demo-shop.iam.gserviceaccount.com",
    "--build-service-account": (
        "projects/demo-shop/serviceAccounts/promoter-build@demo-shop.iam.gserviceaccount.com"
    ),
    "--set-secrets": "PROMOTER_GIT_TOKEN=promoter-git-token:latest",
    "--set-build-env-vars": f"GOOGLE_FUNCTION_SOURCE={FUNCTION_SOURCE}",
    "--memory": "512Mi",
    "--timeout": "120s",
}
FUNCTION_ENV = {
    "PROMOTER_REPO_URL": "https://github.com/demo-shop/shop.git",
    "PROMOTER_BRANCH": "main",
    "PROMOTER_VERIFY_BUILDS": "true",
}


def deploy_step() -> tuple[list[dict[str, Any]], list[str]]:
    """The steps before the deploy, and the deploy's `gcloud functions deploy ...` argv."""
    steps = triggered(PROMOTER_BUILD)["steps"]
    deploys = [
        i for i, step in enumerate(steps) if command(step)[:3] == ["gcloud", "functions", "deploy"]
    ]
    assert deploys == [len(steps) - 1], "one deploy, as the last step"
    assert {step["name"] for step in steps} <= CLOUD_SDK
    return steps[:-1], command(steps[-1])


def test_function_is_deployed_with_exactly_these_flags() -> None:
    _, argv = deploy_step()
    assert argv[3] == "promoter"
    found = options(argv[4:])
    assert all(len(values) == 1 for values in found.values()), "a flag given twice"
    flags = {name: values[0] for name, values in found.items()}
    for name, value in FUNCTION_FLAGS.items():
        assert name in flags, f"missing {name}"
        assert flags[name] == value, f"{name}={flags[name]}, expected {value}"
    env = flags["--set-env-vars"]
    assert env is not None
    assert dict(pair.split("=", 1) for pair in env.split(",")) == FUNCTION_ENV
    assert 1 <= int(flags["--max-instances"] or 0) <= 10
    for wrong in ("--trigger-http", "--allow-unauthenticated", "--no-gen2", "--no-retry"):
        assert wrong not in flags


def test_function_settings_are_what_the_promoter_reads() -> None:
    settings = Settings.from_env({**FUNCTION_ENV, "PROMOTER_GIT_TOKEN": "from-secret-manager"})
    assert settings.remote.url == FUNCTION_ENV["PROMOTER_REPO_URL"]
    assert settings.remote.branch == "main"
    assert settings.remote.token == "from-secret-manager"  # https: the token may be sent
    assert settings.verify_builds  # every event is checked with Cloud Build before writing


def test_function_source_defines_the_entry_point() -> None:
    tree = ast.parse((ROOT / FUNCTION_SOURCE).read_text())
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert FUNCTION_FLAGS["--entry-point"] in names


def test_entry_file_step_gives_gcloud_a_main_py_with_the_entry_point(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    copy_checkout(workspace)
    assert not (workspace / "main.py").exists()
    before, _ = deploy_step()
    for step in before:
        text = script(step)
        assert text is not None, f"step {step['id']}: expected a bash -c script"
        subprocess.run(["bash", "-c", text], cwd=workspace, check=True, timeout=60)
    assert (workspace / "main.py").is_file()
    probe = "import main; print(main.on_build_event.__module__, callable(main.on_build_event))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["promoter.main", "True"]


def test_requirements_install_this_project_and_the_tested_functions_framework() -> None:
    from packaging.requirements import Requirement

    lines = (ROOT / "requirements.txt").read_text().splitlines()
    named = [
        Requirement(line) for line in lines if line.strip() and not line.startswith(("#", "."))
    ]
    assert "." in lines
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["readme"] == "README.md"
    # The buildpack adds a functions-framework of its own unless requirements.txt names one:
    # name the version the tests run (the `test` extra pins it), which pyproject must allow.
    [pin] = [req for req in named if req.name == "functions-framework"]
    [version] = [spec.version for spec in pin.specifier if spec.operator == "=="]
    [allowed] = [
        Requirement(dep) for dep in project["dependencies"] if dep.startswith("functions-framework")
    ]
    assert allowed.specifier.contains(version)
    tested = [Requirement(dep) for dep in project["optional-dependencies"]["test"]]
    assert [req for req in tested if req.name == "functions-framework"] == [pin]


# --- .gcloudignore: the function's upload --------------------------------------------------------

UPLOAD_KEEPS = {"promoter/main.py", "pyproject.toml", "requirements.txt", "README.md"}
UPLOAD_DROPS = ("tests/", "app/", "bench/", "docs/", "manifests/", "argocd/", ".git/", ".ci/")


def gcloudignore_patterns() -> list[str]:
    lines = (ROOT / ".gcloudignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not [p for p in patterns if p.startswith("!")], "negations: read them with gcloud"
    return patterns


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether a gitignore-style pattern (no negations) leaves `path` out of the upload."""
    parts = path.split("/")
    for pattern in patterns:
        directory_only = pattern.endswith("/")
        body = pattern.strip("/")
        anchored = pattern.startswith("/") or "/" in body
        for depth in range(1, len(parts) + 1):
            if directory_only and depth == len(parts):
                continue
            prefix = "/".join(parts[:depth])
            target = prefix if anchored else parts[depth - 1]
            if fnmatch.fnmatchcase(target, body):
                return True
    return False


def expected_upload(files: list[str]) -> set[str]:
    return {path for path in files if not ignored(path, gcloudignore_patterns())}


def test_gcloudignore_keeps_the_function_and_drops_the_rest() -> None:
    files = git_checkout()
    upload = expected_upload(files)
    assert upload >= UPLOAD_KEEPS
    assert {p for p in files if p.startswith("promoter/") and p.endswith(".py")} <= upload
    assert not [p for p in upload if p.startswith(UPLOAD_DROPS)]
    assert ".gcloudignore" not in upload and "cloudbuild.yaml" not in upload
    assert sum((ROOT / path).stat().st_size for path in upload) < 1024 * 1024


# --- triggers ------------------------------------------------------------------------------------

TRIGGER_FILES = {
    "app.yaml": ("cloudbuild.yaml", "app-build"),
    "promoter.yaml": ("promoter/cloudbuild.yaml", "promoter-deploy"),
}


@pytest.mark.parametrize("name", sorted(TRIGGER_FILES))
def test_trigger_runs_its_config_on_main_as_its_account(name: str) -> None:
    trigger = load(TRIGGERS / name)
    filename, account = TRIGGER_FILES[name]
    assert trigger["filename"] == filename and (ROOT / filename).is_file()
    assert trigger["serviceAccount"] == (
        f"projects/demo-shop/serviceAccounts/{account}@demo-shop.iam.gserviceaccount.com"
    )
    github = trigger["github"]
    assert (github["owner"], github["name"]) == ("demo-shop", "shop")
    branch = github["push"]["branch"]
    assert re.search(branch, "main")
    assert not [b for b in ("main-old", "feature/main", "maintenance") if re.search(branch, b)]
    assert {"manifests/**", "argocd/**"} <= set(trigger["ignoredFiles"])
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,63}", trigger["name"])


def starts(trigger: dict[str, Any], changed: set[str]) -> bool:
    """Cloud Build's file filter: drop ignoredFiles, then need an includedFiles match if any."""

    def match(path: str, patterns: list[str]) -> bool:
        return any(glob.globmatch(path, p, flags=glob.GLOBSTAR | glob.DOTGLOB) for p in patterns)

    left = [path for path in changed if not match(path, trigger.get("ignoredFiles", []))]
    if not left:
        return False
    included = trigger.get("includedFiles", [])
    return not included or any(match(path, included) for path in left)


PROMOTION_COMMIT = {"manifests/overlays/dev/kustomization.yaml", ".promoter/ledger.jsonl"}


@pytest.mark.parametrize(
    ("changed", "app", "promoter"),
    [
        (PROMOTION_COMMIT, False, False),
        ({"app/web/__init__.py"}, True, False),
        ({"app/.dockerignore"}, True, False),
        ({"cloudbuild.yaml"}, True, False),
        ({"app/Dockerfile", "manifests/base/deployment.yaml"}, True, False),
        ({"promoter/service.py"}, False, True),
        ({"promoter/cloudbuild.yaml"}, False, True),
        ({"pyproject.toml"}, False, True),
        ({"requirements.txt"}, False, True),
        ({".gcloudignore"}, False, True),
        ({"argocd/applications/web-dev.yaml"}, False, False),
        ({"promoter.yaml"}, False, False),
        ({"README.md", "docs/deploy.md", "tests/test_plan.py"}, False, False),
    ],
)
def test_trigger_file_filters(changed: set[str], app: bool, promoter: bool) -> None:
    assert starts(load(TRIGGERS / "app.yaml"), changed) is app
    assert starts(load(TRIGGERS / "promoter.yaml"), changed) is promoter


@pytest.mark.parametrize("name", sorted(TRIGGER_FILES))
def test_ignored_files_alone_keep_promotion_commits_from_starting_a_build(name: str) -> None:
    # Promotion commits also say [skip ci]; this holds even without it or with any includedFiles.
    trigger = {**load(TRIGGERS / name), "includedFiles": []}
    assert not starts(trigger, PROMOTION_COMMIT)
    assert not starts(trigger, {"manifests/overlays/prod/kustomization.yaml"})


# --- app/Dockerfile ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str

    def exec_form(self) -> list[str]:
        argv = json.loads(self.value)
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), self
        return argv


def dockerfile_stages(path: Path = APP / "Dockerfile") -> list[list[Instruction]]:
    """Instructions per stage; comments dropped, continuation lines joined as Docker does."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, value = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), value.strip()))
        pending = ""
    assert not pending, "a continuation line at the end"
    stages: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, f"{instruction.keyword} before FROM"
        stages[-1].append(instruction)
    return stages


def final_stage() -> list[Instruction]:
    return dockerfile_stages()[-1]


def last(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert found, f"no {keyword} in the final stage"
    return found[-1]


def image_command() -> list[str]:
    stage = final_stage()
    assert not [i for i in stage if i.keyword == "ENTRYPOINT"]
    return last(stage, "CMD").exec_form()


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in final_stage():
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.value):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def pod_container() -> dict[str, Any]:
    return load(DEPLOYMENT)["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_image_is_multi_stage_with_a_slim_python_final_stage() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    bases = [stage[0].value.split()[0] for stage in stages]
    assert re.fullmatch(r"python:3\.\d+(\.\d+)?-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", bases[-1])
    # The venv links to the base image's interpreter: both stages must use the same base.
    assert bases[0] == bases[-1]
    assert stages[0][0].value.split()[-2:] == ["AS", "builder"]


def test_final_stage_copies_only_the_venv_and_the_app() -> None:
    assert not [i for i in final_stage() if i.keyword == "ADD"]
    copies = [i.value.split() for i in final_stage() if i.keyword == "COPY"]
    from_builder = [parts for parts in copies if parts[0].startswith("--from=")]
    assert from_builder == [["--from=builder", "/opt/venv", "/opt/venv"]]
    from_context = [parts for parts in copies if not parts[0].startswith("--")]
    sources = {src for parts in from_context for src in parts[:-1]}
    assert sources == {"web/", "tests/"}
    excluded = [line for line in (APP / ".dockerignore").read_text().splitlines() if line.strip()]
    for source in sources:
        assert (APP / source).is_dir()
        assert not ignored(source.rstrip("/"), [p for p in excluded if not p.startswith("#")])


def test_final_stage_has_no_compilers_or_build_tools() -> None:
    runs = " ".join(i.value for i in final_stage() if i.keyword == "RUN")
    for tool in ("apt-get install", "apk add", "build-essential", "gcc", "g++", "make ", "-dev"):
        assert tool not in runs, tool
    assert "pip install" not in runs, "install in the builder stage, copy the venv"


def test_image_runs_as_the_numeric_non_root_user_the_pod_expects() -> None:
    user = last(final_stage(), "USER").value
    assert re.fullmatch(r"\d+:\d+", user), "numeric uid:gid, so runAsNonRoot can verify it"
    uid, gid = map(int, user.split(":"))
    assert uid != 0 and gid != 0
    security = load(DEPLOYMENT)["spec"]["template"]["spec"]["securityContext"]
    assert (uid, gid) == (security["runAsUser"], security["runAsGroup"])


def test_image_serves_with_gunicorn_on_the_port_the_pod_probes() -> None:
    argv = image_command()
    assert argv[0] == "gunicorn" and "flask" not in argv
    assert argv[argv.index("--bind") + 1] == "0.0.0.0:8080"
    expose = last(final_stage(), "EXPOSE").value
    assert expose == "8080"
    assert [port["containerPort"] for port in pod_container()["ports"]] == [8080]
    # The root filesystem is read-only in the pod: gunicorn's heartbeat files need its emptyDir.
    tmp = argv[argv.index("--worker-tmp-dir") + 1]
    assert tmp in [mount["mountPath"] for mount in pod_container()["volumeMounts"]]
    assert "--no-control-socket" in argv
    assert argv[-1] == "web:create_app()"


def test_image_env_keeps_python_quiet_and_unbuffered() -> None:
    env = image_env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_tests_ship_in_the_image_where_the_build_runs_them() -> None:
    copies = [i.value.split() for i in final_stage() if i.keyword == "COPY"]
    destination = next(parts[-1] for parts in copies if parts[0] == "tests/")
    workdir = last(final_stage(), "WORKDIR").value
    steps = triggered(APP_BUILD)["steps"]
    test_step = next(step for step in steps if "pytest" in command(step))
    _, test_command = docker_run_image(command(test_step))
    assert test_command[-1].rstrip("/") == destination.rstrip("/") == f"{workdir}/tests"
    assert list((APP / "tests").glob("test_web_*.py"))
    # The builder installs the test requirements too, so pytest is in the venv that is copied.
    builder_runs = " ".join(i.value for i in dockerfile_stages()[0] if i.keyword == "RUN")
    assert "requirements-test.txt" in builder_runs and "requirements.txt" in builder_runs


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-test.txt"])
def test_app_requirements_are_pinned(name: str) -> None:
    lines = (APP / name).read_text().splitlines()
    pins = [line for line in lines if line.strip() and not line.startswith("#")]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9._-]*==[0-9][0-9A-Za-z.+-]*", pin) for pin in pins)
    names = {pin.split("==")[0] for pin in pins}
    assert names >= ({"flask", "gunicorn"} if name == "requirements.txt" else {"pytest"})


# --- the app, served as the image serves it ------------------------------------------------------


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get_content_type(), response.read()


def test_image_command_serves_the_page_and_health(tmp_path: Path) -> None:
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        pytest.skip("gunicorn is not installed (it comes with functions-framework on Linux)")
    argv = image_command()
    port = free_port()
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    home = tmp_path / "home"  # the pod's $HOME is on its read-only root filesystem
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, **image_env(), "HOME": str(home), "PATH": os.environ["PATH"]}
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *argv[1:]],
            cwd=APP,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not listening(port):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not listen within 30 s"
            time.sleep(0.05)
        status, kind, body = get(f"http://127.0.0.1:{port}/")
        assert (status, kind) == (200, "text/html") and b"<title>Demo Shop</title>" in body
        status, kind, body = get(f"http://127.0.0.1:{port}/healthz")
        assert (status, kind, json.loads(body)) == (200, "application/json", {"status": "ok"})
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert "[ERROR]" not in text, text
    assert "GET /healthz" in text  # the access log goes to stdout
    assert not home.exists(), "gunicorn wrote under $HOME"


# --- gcloud's own reading of the same files ------------------------------------------------------

# Runs under gcloud's Python with gcloud's libraries; writes what it saw as JSON.
GCLOUD_CHECK = r"""
import json, os, sys, tempfile, zipfile

lib, job_path, out_path = sys.argv[1:4]
sys.path[:0] = [lib, os.path.join(lib, "third_party")]
job = json.load(open(job_path))
result = {}


def configs():
    from googlecloudsdk.api_lib.cloudbuild import cloudbuild_util, config
    messages = cloudbuild_util.GetMessagesModule()
    for path in job["builds"]:
        build = config.LoadCloudbuildConfigFromPath(path, messages)
        result.setdefault("builds", {})[path] = {
            "steps": [step.id for step in build.steps],
            "images": list(build.images),
            "logging": str(build.options.logging),
            "timeout": build.timeout,
        }
    for path in job["triggers"]:
        triggers = cloudbuild_util.LoadMessagesFromPath(
            path, messages.BuildTrigger, "BuildTrigger", skip_camel_case=["substitutions"])
        result.setdefault("triggers", {})[path] = [
            {"name": t.name, "filename": t.filename, "serviceAccount": t.serviceAccount,
             "branch": t.github.push.branch, "ignoredFiles": list(t.ignoredFiles),
             "includedFiles": list(t.includedFiles)} for t in triggers]


def deploy(argv):
    from googlecloudsdk import gcloud_main
    from googlecloudsdk.api_lib.util import apis
    from googlecloudsdk.command_lib.functions import source_util
    from googlecloudsdk.command_lib.functions.v2.deploy import command as v2

    messages = apis.GetMessagesModule("cloudfunctions", "v2")
    seen = result.setdefault("deploy", {})

    def run(args, track):  # in place of the API calls: what the deploy would send
        trigger = v2._GetEventTriggerForOther(args, messages)
        retry, _ = v2._GetRetry(args, messages, trigger)
        ingress, _ = v2._GetIngressSettings(args, messages)
        seen.update(
            name=args.NAME, region=args.region, gen2=str(args.gen2), runtime=args.runtime,
            entry_point=args.entry_point, event_type=trigger.eventType,
            topic=trigger.pubsubTopic, trigger_account=trigger.serviceAccountEmail,
            retry=str(retry), ingress=str(ingress),
            memory=v2._ParseMemoryStrToK8sMemory(args.memory),
            timeout=args.timeout, max_instances=args.max_instances,
            service_account=args.service_account, build_account=args.build_service_account,
            env=dict(args.set_env_vars or {}),
            build_env=dict(args.set_build_env_vars or {}), secrets=dict(args.set_secrets or {}),
        )
        try:
            source_util.ValidateDirectoryHasRequiredRuntimeFiles(args.source, args.runtime)
            seen["source_error"] = None
        except Exception as err:
            seen["source_error"] = str(err)
        with tempfile.TemporaryDirectory() as tmp:
            archive = source_util.CreateSourcesZipFile(tmp, args.source, args.ignore_file)
            names = zipfile.ZipFile(archive).namelist()
            seen["upload"] = sorted(n for n in names if not n.endswith("/"))

    v2.Run = run
    gcloud_main.CreateCLI([]).Execute(argv)


try:
    try:
        if "builds" in job:
            configs()
        if "deploy" in job:
            deploy(job["deploy"])
    except (ImportError, AttributeError) as err:
        result = {"unsupported": repr(err)}
finally:
    with open(out_path, "w") as out:
        json.dump(result, out)
"""


@cache
def gcloud_sdk() -> tuple[Path, Path] | None:
    """gcloud's bundled Python and its lib/ directory, where this machine has gcloud."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    root = Path(gcloud).resolve().parent.parent
    python = root / "platform" / "bundledpythonunix" / "bin" / "python3"
    python = Path(os.environ.get("CLOUDSDK_PYTHON") or python)
    lib = root / "lib"
    if not python.exists() or not (lib / "googlecloudsdk").is_dir():
        return None
    return python, lib


@cache
def offline_prefix() -> tuple[str, ...]:
    """Run gcloud's code in a network namespace of its own where this machine allows it."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True).returncode == 0:
        return (unshare, "--net")
    return ()


def run_gcloud_check(tmp_path: Path, job: dict[str, Any], cwd: Path = ROOT) -> dict[str, Any]:
    sdk = gcloud_sdk()
    if sdk is None:
        pytest.skip("gcloud (with its bundled Python) is not installed here")
    python, lib = sdk
    (tmp_path / "check.py").write_text(GCLOUD_CHECK)
    (tmp_path / "job.json").write_text(json.dumps(job))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud-config"),
        "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
    }
    check_args = [tmp_path / "check.py", lib, tmp_path / "job.json", tmp_path / "out.json"]
    done = subprocess.run(
        [*offline_prefix(), str(python), "-S", *map(str, check_args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads((tmp_path / "out.json").read_text())
    if "unsupported" in result:
        pytest.skip(f"this gcloud's internals differ: {result['unsupported']}")
    return result


def test_gcloud_loads_the_build_configs_and_triggers(tmp_path: Path) -> None:
    triggers = sorted(TRIGGERS.glob("*.yaml"))
    job = {"builds": [str(APP_BUILD), str(PROMOTER_BUILD)], "triggers": [str(t) for t in triggers]}
    result = run_gcloud_check(tmp_path, job)
    app = result["builds"][str(APP_BUILD)]
    assert app["steps"] == ["build", "test", "smoke"]
    assert app["logging"] == "CLOUD_LOGGING_ONLY" and app["timeout"] == "1200s"
    assert len(app["images"]) == 2
    assert result["builds"][str(PROMOTER_BUILD)]["steps"] == ["entry-file", "deploy"]
    loaded = {Path(path).name: found for path, found in result["triggers"].items()}
    assert [t["name"] for t in loaded["app.yaml"]] == ["web-main"]
    assert [t["name"] for t in loaded["promoter.yaml"]] == ["promoter-deploy"]
    for name, (filename, account) in TRIGGER_FILES.items():
        (trigger,) = loaded[name]
        assert trigger["filename"] == filename and account in trigger["serviceAccount"]
        assert trigger["ignoredFiles"] == load(TRIGGERS / name)["ignoredFiles"]


def test_gcloud_parses_the_deploy_and_uploads_the_function(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    files = copy_checkout(workspace)
    before, argv = deploy_step()
    for step in before:
        subprocess.run(["bash", "-c", script(step) or "false"], cwd=workspace, check=True)
    result = run_gcloud_check(tmp_path, {"deploy": argv[1:]}, cwd=workspace)
    deploy = result["deploy"]
    assert deploy["source_error"] is None  # gcloud checks for main.py and requirements.txt
    assert (deploy["name"], deploy["region"], deploy["gen2"]) == (
        "promoter",
        "europe-west1",
        "true",
    )
    assert (deploy["runtime"], deploy["entry_point"]) == ("python312", "on_build_event")
    assert deploy["event_type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert deploy["topic"] == "projects/demo-shop/topics/cloud-builds"
    assert deploy["retry"] == "RETRY_POLICY_RETRY"
    assert deploy["ingress"] == "ALLOW_INTERNAL_ONLY"
    assert (deploy["memory"], deploy["timeout"]) == ("512Mi", 120)
    assert (
        deploy["service_account"]
        == deploy["trigger_account"]
        == FUNCTION_FLAGS["--service-account"]
        == FUNCTION_FLAGS["--trigger-service-account"]
    )
    assert deploy["build_account"] == FUNCTION_FLAGS["--build-service-account"]
    assert deploy["env"] == FUNCTION_ENV
    assert deploy["build_env"] == {"GOOGLE_FUNCTION_SOURCE": FUNCTION_SOURCE}
    assert deploy["secrets"] == {
        "PROMOTER_GIT_TOKEN": "projects/*/secrets/promoter-git-token/versions/latest"
    }
    # gcloud's own reading of .gcloudignore agrees with the one the static test uses.
    assert set(deploy["upload"]) == expected_upload(files) | {"main.py"}
