"""The message against Cloud Build's record, field by field, both ways round; trust rules on
their own (survivors of the verify mutation run, docs/TESTING.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from promoter.events import from_envelope
from promoter.policy import Trust
from promoter.verify import differences, untrusted

from .conftest import WEB, build, digest_of

OTHER = "europe-west1-docker.pkg.dev/demo-shop/apps/zz"
EVENT = from_envelope(build(build_id="b1", digest=digest_of(1)))


@pytest.mark.parametrize("lower_first", [True, False])
def test_any_difference_is_found_whichever_way_it_sorts(lower_first: bool):
    low, high = (EVENT, replace(EVENT, status="TIMEOUT", project_id="zz-project"))
    claimed, actual = (low, high) if lower_first else (high, low)
    found = differences(claimed, actual)
    assert found is not None
    assert f"status {claimed.status}, Cloud Build says {actual.status}" in found
    assert f"project {claimed.project_id}, Cloud Build says {actual.project_id}" in found


@pytest.mark.parametrize("lower_first", [True, False])
def test_a_digest_is_compared_whichever_way_it_sorts(lower_first: bool):
    one = from_envelope(build(build_id="b1", digest=digest_of(1)))
    two = from_envelope(build(build_id="b1", digest=digest_of(2)))
    low, high = sorted([one, two], key=lambda e: e.images[0].digest)
    claimed, actual = (low, high) if lower_first else (high, low)
    assert differences(claimed, actual) is not None


def test_an_image_only_the_message_names_or_only_the_build_has_is_a_difference():
    both = from_envelope(
        build(build_id="b1", images=[(WEB, "1", digest_of(1)), (OTHER, "1", digest_of(2))])
    )
    assert differences(both, EVENT) == (
        f"not verified: {OTHER} digest {digest_of(2)}, Cloud Build says (none)"
    )
    assert differences(EVENT, both) == (
        f"not verified: {OTHER} digest (none), Cloud Build says {digest_of(2)}"
    )


def test_a_build_cloud_build_does_not_have_names_its_project():
    assert differences(EVENT, None) == (
        f"not verified: Cloud Build has no build b1 in {EVENT.project_id}"
    )
    no_project = replace(EVENT, project_id="")
    assert differences(no_project, None) == (
        "not verified: Cloud Build has no build b1 in (no project)"
    )


def test_verification_is_required_only_where_trust_says_so():
    assert untrusted(EVENT, Trust(), verified=False) is None
    assert untrusted(EVENT, Trust(verify="cloudbuild"), verified=True) is None
    assert untrusted(EVENT, Trust(verify="cloudbuild"), verified=False) is not None


def test_an_untrusted_trigger_is_named():
    event = replace(EVENT, trigger_name="", trigger_id="")
    assert untrusted(event, Trust(triggers=("deploy",)), verified=True) == (
        "not trusted: trigger (none) is not in trust.triggers"
    )
    event = replace(EVENT, trigger_name="", trigger_id="t-123")
    assert untrusted(event, Trust(triggers=("deploy",)), verified=True) == (
        "not trusted: trigger t-123 is not in trust.triggers"
    )
