"""The ledger file: what it refuses, named by line, and how it orders builds."""

from __future__ import annotations

import json

import pytest

from promoter.errors import ConfigError
from promoter.ledger import Ledger

from .conftest import WEB, digest_of

GOOD = {
    "path": "clusters/dev/deployment.yaml",
    "repository": WEB,
    "build": "b1",
    "createTime": "2026-03-02T09:10:51Z",
    "digest": digest_of(1),
}


def line(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("{not json", "expected a ledger record (JSONDecodeError)"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "build"}), "(KeyError)"),
        (line(createTime=5), "(TypeError)"),
        (line(createTime="yesterday"), "(ValueError)"),
        (line(digest="sha256:abc"), "expected string fields and a sha256 digest"),
        (line(path=7), "expected string fields and a sha256 digest"),
    ],
)
def test_a_bad_record_is_a_config_error_naming_its_line(bad: str, why: str) -> None:
    text = "\n".join([line(), "", bad, line(path="b.yaml")]) + "\n"
    with pytest.raises(ConfigError) as raised:
        Ledger.from_text(text)
    assert str(raised.value).startswith(".promoter/ledger.jsonl: line 3: ")
    assert why in str(raised.value)


def test_blank_lines_are_skipped_and_a_missing_file_is_empty() -> None:
    ledger = Ledger.from_text("\n" + line() + "\n\n")
    assert list(ledger.records) == [("clusters/dev/deployment.yaml", WEB)]
    assert Ledger.from_text(None).records == {} == Ledger.from_text("").records
