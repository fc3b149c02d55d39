"""`promoter --help` says what the tool does and lists the commands in the order people need
them; each command's `--help` ends with an example of that command."""

from __future__ import annotations

import re

import pytest

from .conftest import run_cli

COMMANDS = [
    *("dev", "simulate", "promote", "listen", "promote-env"),
    *("status", "history", "rollback", "hold", "release"),
]


def test_the_help_says_what_the_tool_does_and_lists_the_commands_in_order():
    done = run_cli("--help")
    assert done.returncode == 0
    text = done.stdout
    first = text.split("\n\n")[1]  # after the usage line: the description's first paragraph
    assert first.startswith("Promote successful Cloud Build images into a GitOps config repo")
    listed = re.findall(r"^    ([\w-]+)(?:  |$)", text, flags=re.MULTILINE)
    assert listed == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_ends_with_an_example(command):
    done = run_cli(command, "--help")
    assert done.returncode == 0
    example = done.stdout.rstrip().split("\nexample:\n", 1)[1]
    assert example.lstrip().startswith(f"promoter {command}")
