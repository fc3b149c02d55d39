"""The layering rule, checked: pure modules import no adapter, no I/O library, no environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "promoter"
PURE = [
    "appstatus",
    "audit",
    "carry",
    "chain",
    "environments",
    "errors",
    "events",
    "helmvalues",
    "history",
    "holds",
    "images",
    "ledger",
    "manifests",
    "pinning",
    "plan",
    "policy",
    "pullrequests",
    "rollback",
    "status",
    "verify",
    "webhook",
    "yamlcheck",
    "yamldocs",
    "yamledits",
]
FORBIDDEN = {
    "promoter.gitrepo",
    "promoter.gitdir",
    "promoter.gitobjects",
    "promoter.gittransport",
    "promoter.gittree",
    "promoter.candidates",
    "promoter.pubsub",
    "promoter.service",
    "promoter.settings",
    "promoter.main",
    "promoter.cli",
    "promoter.devloop",
    "promoter.handling",
    "promoter.interventions",
    "promoter.proposing",
    "promoter.githistory",
    "promoter.argocd",
    "promoter.forge",
    "promoter.forgeapi",
    "promoter.forge_github",
    "promoter.forge_gitlab",
    "promoter.forge_ssm",
    "promoter.gcpauth",
    "promoter.argowebhook",
    "kubernetes",
    "git",
    "gitdb",
    "google",
    "flask",
    "functions_framework",
    "subprocess",
    "os",
    "socket",
    "requests",
    "urllib",
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_adapter(module):
    bad = {
        name
        for name in imports(PACKAGE / f"{module}.py")
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert bad == set(), f"promoter/{module}.py imports {sorted(bad)}"


def test_the_rule_sees_a_violation(tmp_path):
    (tmp_path / "bad.py").write_text("import subprocess\nfrom promoter.gitrepo import Workspace\n")
    assert {"subprocess", "promoter.gitrepo"} <= imports(tmp_path / "bad.py")
