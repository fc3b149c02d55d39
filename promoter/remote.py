"""Where the config repo lives and how git may authenticate to it, without leaking the token."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from promoter.errors import ConfigError

_SCHEMES = ("file", "git", "http", "https", "ssh")
_HELPER_ADDRESS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")  # TRANSPORT::ADDRESS, as git reads it
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
# A tiny shell credential helper: it reads the token from the environment git runs it in, so
# the token is never on a command line, in a config file or in the workspace.
_HELPER = (
    '!f() { test "$1" = get && echo username=x-access-token'
    ' && echo "password=$PROMOTER_GIT_TOKEN"; }; f'
)


@dataclass(frozen=True)
class Remote:
    """A config repo URL and branch, plus the https token that may be sent to it."""

    url: str
    branch: str = "main"
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.url.startswith("-"):  # git would take it for an option
            raise ConfigError(f"repo: {self.url!r} must not begin with '-'")
        if _HELPER_ADDRESS.match(self.url):  # git runs the helper git-remote-TRANSPORT
            raise ConfigError(f"repo: {self.url!r}: remote-helper addresses are not supported")
        if "://" in self.url:  # git knows schemes in lower case only
            scheme, rest = self.url.split("://", 1)
            object.__setattr__(self, "url", f"{scheme.lower()}://{rest}")
        try:
            urlsplit(self.url).port  # noqa: B018 - parsing is the check
        except ValueError as err:
            raise ConfigError(f"repo: not a valid URL ({err})") from None
        self.check_scheme()
        if not _valid_branch(self.branch):
            raise ConfigError(f"branch: {self.branch!r} is not a valid branch name")
        if self.token and not may_carry_token(self.url):
            raise ConfigError(
                "PROMOTER_GIT_TOKEN: only sent over https or to loopback http,"
                f" not to {self.display}"
            )

    @property
    def scheme(self) -> str:
        if "://" in self.url:
            return self.url.split("://", 1)[0].lower()
        return "ssh" if _SCP_LIKE.match(self.url) else "file"

    @property
    def display(self) -> str:
        """The URL without any user or password, for messages."""
        parts = urlsplit(self.url)
        if parts.password is None and parts.username is None:
            return self.url
        return parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]).geturl()

    def git_env(self) -> dict[str, str]:
        """Environment for git processes that talk to this remote."""
        env = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
        if self.token:
            parts = urlsplit(self.url)
            scope = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
            env |= {
                "PROMOTER_GIT_TOKEN": self.token,
                "GIT_CONFIG_COUNT": "2",
                "GIT_CONFIG_KEY_0": f"credential.{scope}.helper",
                "GIT_CONFIG_VALUE_0": "",
                "GIT_CONFIG_KEY_1": f"credential.{scope}.helper",
                "GIT_CONFIG_VALUE_1": _HELPER,
            }
        return env

    def redact(self, text: str) -> str:
        """`text` with the token and any URL password replaced."""
        if self.token:
            text = text.replace(self.token, "***")
        password = urlsplit(self.url).password
        return text.replace(password, "***") if password else text

    def git_error(self, stderr: str) -> str:
        """The line of git's stderr that names the cause, redacted: the one line an error quotes.

        That is git's first `fatal:` or `error:` line (with the next one when it ends in a
        colon, as "unable to connect to HOST:" does), else its last line: the last line alone
        is often advice ("and the repository exists.").
        """
        lines = [line for line in map(_unquoted, stderr.splitlines()) if line]
        if not lines:
            return "no message from git"
        causes = [n for n, line in enumerate(lines) if line.startswith(("fatal:", "error:"))]
        if not causes:
            return self.redact(lines[-1])
        first = causes[0]
        message = lines[first]
        if message.endswith(":") and first + 1 < len(lines):
            message += " " + lines[first + 1]
        return self.redact(message)

    def workspace_name(self) -> str:
        """A stable folder name for this URL and branch."""
        digest = hashlib.sha256(f"{self.display}\0{self.branch}".encode()).hexdigest()[:16]
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(urlsplit(self.display).path).name)[:40]
        return f"{stem or 'repo'}-{self.branch.replace('/', '-')}-{digest}"

    def check_scheme(self) -> None:
        if self.scheme not in _SCHEMES:
            raise ConfigError(f"repo: unsupported URL scheme {self.scheme!r} in {self.display}")


def may_carry_token(url: str) -> bool:
    """True when a token may be sent to `url`: over https, or plain http to loopback only.

    The git token, the forge's token and the Argo CD webhook's secret follow this one rule.
    """
    parts = urlsplit(url)
    return may_carry_secret(parts.scheme.lower(), parts.hostname or "")


def may_carry_secret(scheme: str, host: str) -> bool:
    """True where a secret may travel: over https, or over http to loopback only."""
    if scheme == "https":
        return True
    if scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unquoted(line: str) -> str:
    """A line of git's stderr as GitPython quotes it (`stderr: 'fatal: ...'`), without that."""
    line = line.strip().removeprefix("stderr: ")
    if line.count("'") % 2:  # GitPython's own quote, unmatched on this line
        line = line.removeprefix("'").removesuffix("'")
    return line.strip()


def _valid_branch(branch: str) -> bool:
    """git's own rules for a branch name (`git check-ref-format`), which no one else may bend."""
    if not branch or branch.startswith("-") or any(c < " " or c == "\x7f" for c in branch):
        return False
    try:
        done = subprocess.run(
            ["git", "check-ref-format", f"refs/heads/{branch}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        raise ConfigError("branch: git is not available to check the branch name") from None
    return done.returncode == 0
