"""Cloud Build notifications, in every envelope they arrive in, become one `BuildEvent`."""

from __future__ import annotations

import base64
import copy
import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promoter.errors import InvalidEvent
from promoter.events import (
    MAX_EVENT_BYTES,
    STATUSES,
    BuildEvent,
    BuildTime,
    from_background,
    from_cloud_event_data,
    from_envelope,
    parse_event,
)
from promoter.images import ImageRef, is_digest

DATA = Path(__file__).parent / "data" / "events"
REGISTRY = "europe-west1-docker.pkg.dev/demo-shop/apps"
CART_DIGEST = "sha256:6f1d0b8a3c9e4f2a7b5d8c1e0f3a6b9c2d5e8f1a4b7c0d3e6f9a2b5c8d1e4f7a"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def load(name: str) -> Any:
    return json.loads(read(name))


def encode(build: object, *, urlsafe: bool = False, padded: bool = True) -> str:
    raw = json.dumps(build).encode()
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text if padded else text.rstrip("=")


def push_body(data: str) -> dict[str, object]:
    message = {"data": data, "messageId": "1", "attributes": {"status": "SUCCESS"}}
    return {"message": message, "subscription": "projects/demo-shop/subscriptions/promoter"}


def invalid(raw: bytes | str) -> str:
    """The message of the InvalidEvent that `raw` must raise."""
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    message = str(caught.value)
    assert message and "\n" not in message and "\r" not in message
    return message


def invalid_build(**changes: object) -> str:
    build = load("build-success.json")
    build.update(changes)
    return invalid(json.dumps(build))


# --- the example in wire-formats.md ------------------------------------------------------------


def test_successful_build_from_the_wire_format_example() -> None:
    event = parse_event(read("build-success.json"))

    assert event == BuildEvent(
        build_id="5d1c0e7a-2b3f-4c5d-8e9f-0a1b2c3d4e5f",
        status="SUCCESS",
        create_time=BuildTime.parse("2026-03-02T09:10:51.402118Z"),
        images=(ImageRef(f"{REGISTRY}/cart", CART_DIGEST, "4be1a9c"),),
        branch="main",
        source_commit="4be1a9c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2",
        log_url="https://console.cloud.google.com/cloud-build/builds/"
        "5d1c0e7a-2b3f-4c5d-8e9f-0a1b2c3d4e5f?project=123",
        project_id="demo-shop",
        trigger_name="cart-main",
    )
    assert event.promotable
    assert event.create_time is not None
    assert event.create_time.text == "2026-03-02T09:10:51.402118Z"


# --- every envelope gives the same event -------------------------------------------------------

ENVELOPES = [
    "pubsub-message.json",
    "pubsub-message-snake-case.json",
    "pubsub-push-body.json",
    "cloudevent-structured.json",
    "gen1-legacy-event.json",
    "gen1-legacy-event-flat.json",
    "gen1-background-data.json",
]


@pytest.mark.parametrize("name", ENVELOPES)
def test_every_envelope_gives_the_same_event(name: str) -> None:
    expected = parse_event(read("build-success.json"))

    assert parse_event(read(name)) == expected
    assert parse_event(read(name).decode()) == expected
    assert from_envelope(load(name)) == expected


def test_cloud_event_data_as_functions_framework_hands_it() -> None:
    expected = parse_event(read("build-success.json"))
    structured = load("cloudevent-structured.json")

    assert from_cloud_event_data(structured["data"]) == expected
    assert from_cloud_event_data(load("pubsub-push-body.json")) == expected
    assert from_cloud_event_data(read("pubsub-push-body.json")) == expected


def test_background_data_and_context_as_gen1_hands_them() -> None:
    legacy = load("gen1-legacy-event.json")

    event = from_background(legacy["data"], legacy["context"])

    assert event == parse_event(read("build-success.json"))
    assert from_background(load("gen1-background-data.json")) == event


@pytest.mark.parametrize(
    ("urlsafe", "padded"), [(False, True), (False, False), (True, True), (True, False)]
)
def test_message_data_in_either_base64_alphabet_with_or_without_padding(
    urlsafe: bool, padded: bool
) -> None:
    build = load("build-success.json")
    data = encode(build, urlsafe=urlsafe, padded=padded)
    assert ("_" in data or "-" in data) == urlsafe  # this payload shows the difference

    assert from_envelope(push_body(data)) == from_envelope(build)


# --- statuses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_every_status_is_read_and_only_success_promotes(status: str) -> None:
    build = load("build-success.json")
    build["status"] = status

    event = from_envelope(build)

    assert event.status == status
    assert event.promotable == (status == "SUCCESS")


def test_the_status_set_is_the_one_cloud_build_documents() -> None:
    documented = "STATUS_UNKNOWN PENDING QUEUED WORKING SUCCESS FAILURE INTERNAL_ERROR TIMEOUT"
    assert {*documented.split(), "CANCELLED", "EXPIRED"} == STATUSES


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("build-queued.json", "QUEUED"),
        ("build-working.json", "WORKING"),
        ("build-failure.json", "FAILURE"),
    ],
)
def test_builds_in_progress_or_failed_carry_no_images(name: str, status: str) -> None:
    event = parse_event(read(name))

    assert (event.status, event.images, event.promotable) == (status, (), False)
    assert event.build_id == "2c8f4a6e-1b3d-4e5f-9a7b-8c0d2e4f6a1b"
    assert event.branch == "main"


def test_a_message_that_cannot_promote_is_not_checked_for_images_or_times() -> None:
    event = parse_event(read("build-queued-odd-fields.json"))

    assert (event.status, event.create_time, event.images) == ("QUEUED", None, ())


def test_a_failed_build_still_reports_what_it_can() -> None:
    event = parse_event(read("build-failure.json"))

    assert event.create_time == BuildTime.parse("2026-03-02T11:02:13.877412Z")
    assert event.source_commit == "9c4e2f7b1a3d5c8e0f2a4b6c8d0e1f3a5b7c9d2e"
    assert event.trigger_name == "shop-main"


def test_substitutions_are_checked_whatever_the_status() -> None:
    build = load("build-working.json")
    build["substitutions"]["BRANCH_NAME"] = "main\nPromoted-By: nobody"

    with pytest.raises(InvalidEvent, match=r"^substitutions\.BRANCH_NAME: "):
        from_envelope(build)


# --- images ------------------------------------------------------------------------------------


def test_two_images_in_the_order_listed() -> None:
    event = parse_event(read("build-success-two-images.json"))

    assert [(image.repository, image.tag) for image in event.images] == [
        (f"{REGISTRY}/cart", "9c4e2f7"),
        (f"{REGISTRY}/cart-worker", "9c4e2f7"),
    ]
    assert event.images[0].digest != event.images[1].digest


def test_an_untagged_image_and_its_latest_twin_are_one_untagged_image() -> None:
    (image,) = parse_event(read("build-untagged-latest-dup.json")).images

    assert image.repository == f"{REGISTRY}/web"
    assert image.tag is None
    assert is_digest(image.digest)


def test_the_first_tag_other_than_latest_names_the_image() -> None:
    (image,) = parse_event(read("build-latest-then-version-tag.json")).images

    assert (image.repository, image.tag) == (f"{REGISTRY}/api", "1.4.0")


def test_a_registry_port_is_part_of_the_repository_not_a_tag() -> None:
    images = parse_event(read("build-registry-port.json")).images

    assert [(image.repository, image.tag) for image in images] == [
        ("registry.internal:5000/team/web", "1.2"),
        ("localhost:5000/web", "1.2"),
    ]


def test_a_name_pinned_to_its_own_digest_is_accepted() -> None:
    (image,) = parse_event(read("build-name-pinned-same-digest.json")).images

    assert (image.repository, image.tag) == (f"{REGISTRY}/cart", "9c4e2f7")


def test_a_success_without_results_has_no_images() -> None:
    build = load("build-success.json")
    del build["results"]
    assert from_envelope(build).images == ()

    build["results"] = {"buildStepImages": ["sha256:" + "0" * 64]}
    assert from_envelope(build).images == ()


# --- informational fields ----------------------------------------------------------------------


def test_a_manual_submit_takes_its_commit_from_source_provenance() -> None:
    event = parse_event(read("build-manual-submit.json"))

    assert (event.branch, event.trigger_name) == (None, None)
    assert event.source_commit == "1f2e3d4c5b6a79881726354453627180918a7b6c"
    assert event.promotable


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"COMMIT_SHA": ""}, None),
        ({"COMMIT_SHA": "not-hex"}, None),
        ({"COMMIT_SHA": "4be1a9"}, None),
        ({"COMMIT_SHA": "4BE1A9C"}, "4be1a9c"),
    ],
)
def test_source_commit_must_look_like_a_commit(
    changes: dict[str, str], expected: str | None
) -> None:
    build = load("build-success.json")
    build["substitutions"].update(changes)

    assert from_envelope(build).source_commit == expected


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "https://console.cloud.google.com/x\nInjected: yes",
        "https://console.cloud.google.com/ x",
        "https://console.cloud.google.com/\x00",
        "ftp://example.com/log",
        42,
    ],
)
def test_an_unsafe_log_url_is_dropped(url: object) -> None:
    assert from_envelope({**load("build-success.json"), "logUrl": url}).log_url is None


def test_a_trigger_name_cannot_carry_a_line_break() -> None:
    build = load("build-success.json")
    build["substitutions"]["TRIGGER_NAME"] = "cart-main\nSigned-off-by: x\u2028y\r"

    assert from_envelope(build).trigger_name == "cart-main\ufffdSigned-off-by: x\ufffdy\ufffd"


def test_an_empty_branch_is_no_branch() -> None:
    build = load("build-success.json")
    build["substitutions"]["BRANCH_NAME"] = ""

    assert from_envelope(build).branch is None


# --- build times -------------------------------------------------------------------------------


def test_build_times_keep_nanosecond_precision() -> None:
    earlier = BuildTime.parse("2026-03-02T09:14:07.118244917Z")
    later = BuildTime.parse("2026-03-02T09:14:07.118244918Z")

    assert earlier < later
    assert later.nanos == 118_244_918
    assert BuildTime.parse("2026-03-02T09:14:07.1182449Z") < earlier
    assert BuildTime.parse("2026-03-02T09:14:07.11824492Z") > later


def test_build_times_with_an_offset_normalise_to_utc() -> None:
    local = BuildTime.parse("2026-03-02T10:14:07.118244918+01:00")
    behind = BuildTime.parse("2026-03-02T04:44:07-04:30")

    assert local == BuildTime.parse("2026-03-02T09:14:07.118244918Z")
    assert local.text == "2026-03-02T09:14:07.118244918Z"
    assert behind.text == "2026-03-02T09:14:07Z"
    assert BuildTime.parse("2026-03-02t09:14:07z").text == "2026-03-02T09:14:07Z"


def test_build_times_compare_by_instant_not_by_text() -> None:
    short, long = (
        BuildTime.parse("2026-03-02T09:14:07.5Z"),
        BuildTime.parse("2026-03-02T09:14:07.500Z"),
    )

    assert short == long and hash(short) == hash(long)
    assert (short.text, long.text) == ("2026-03-02T09:14:07.5Z", "2026-03-02T09:14:07.500Z")
    assert str(short) == short.text


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02T09:14:07.1182449180Z",  # ten fractional digits
        "2026-03-02T09:14:07.Z",
        "2026-03-02T09:14:07",
        "2026-03-02 09:14:07Z",
        "2026-02-30T09:14:07Z",
        "2026-03-02T24:00:00Z",
        "2026-03-02T09:14:60Z",
        "2026-03-02T09:14:07+24:00",
        "2026-03-02T09:14:07+01:60",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-00:01",
        "\uff12\uff10\uff12\uff16-03-02T09:14:07Z",  # fullwidth digits
        "",
    ],
)
def test_malformed_build_times_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=r"^not (an RFC 3339|a valid) time: "):
        BuildTime.parse(text)


# --- invalid events: one line naming the field -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "build-bad-digest-uppercase.json",
            "results.images[1].digest: expected sha256:<64 lowercase hex>, got 'sha256:F466C6EB",
        ),
        ("build-two-digests-one-repo.json", "results.images[1].digest: "),
        ("build-name-pinned-other-digest.json", "results.images[0].name: pinned to sha256:"),
        ("build-bad-image-name.json", "results.images[0].name: expected an OCI image reference"),
        ("build-success-no-create-time.json", "createTime: required"),
        ("build-branch-newline.json", "substitutions.BRANCH_NAME: control character in 'main\\n"),
        ("build-unknown-status.json", "status: expected a Cloud Build status, got 'DONE'"),
        ("pubsub-push-bad-base64.json", "message.data: not valid base64"),
        ("pubsub-push-data-not-json.json", "message.data: not valid JSON"),
    ],
)
def test_invalid_payload_files(name: str, expected: str) -> None:
    assert invalid(read(name)).startswith(expected)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"id": None}, "id: required"),
        ({"id": 7}, "id: expected text, got a number"),
        ({"id": "../../etc"}, "id: expected a Cloud Build id, got '../../etc'"),
        ({"id": "x" * 129}, "id: expected a Cloud Build id"),
        ({"status": None}, "status: required"),
        ({"status": "success"}, "status: expected a Cloud Build status, got 'success'"),
        ({"status": ["SUCCESS"]}, "status: expected text, got an array"),
        ({"createTime": "2026-03-02"}, "createTime: expected RFC 3339"),
        ({"createTime": 1772442651}, "createTime: expected text, got a number"),
        ({"results": []}, "results: expected an object, got an array"),
        ({"results": {"images": {}}}, "results.images: expected an array, got an object"),
        ({"results": {"images": ["cart"]}}, "results.images[0]: expected an object"),
        ({"results": {"images": [{"name": "cart"}]}}, "results.images[0].digest: required"),
        ({"results": {"images": [{"digest": CART_DIGEST}]}}, "results.images[0].name: required"),
        (
            {"results": {"images": [{"name": f"{REGISTRY}/cart:v\u00e9", "digest": CART_DIGEST}]}},
            "results.images[0].name: expected an OCI image reference, got 'europe-west1",
        ),
        ({"substitutions": ["BRANCH_NAME=main"]}, "substitutions: expected an object"),
        ({"substitutions": {"_N": 3}}, "substitutions['_N']: expected text, got a number"),
    ],
)
def test_invalid_builds_name_the_field(changes: dict[str, object], expected: str) -> None:
    assert invalid_build(**changes).startswith(expected)


def test_a_long_value_is_shortened_in_the_message() -> None:
    message = invalid_build(status="X" * 10_000)

    assert message.startswith("status: expected a Cloud Build status, got 'XXXX")
    assert len(message) < 160


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xff\xfe{}", "event: not valid UTF-8"),
        (b"", "event: not valid JSON"),
        (b"[]", "event: expected an object, got an array"),
        (b"null", "event: expected an object, got nothing"),
        (b"3", "event: expected an object, got a number"),
        (b"[" * 200_000 + b"]" * 200_000, "event: JSON nested too deeply"),
        (b'{"id": "a", "id": "b"}', "event: not valid JSON (duplicate key"),
        (b'{"id": NaN}', "event: not valid JSON"),
        (b'{"hello": "world"}', "event: neither a Build"),
        (b'{"message": "hi"}', "message: expected an object, got 'hi'"),
        (b'{"message": {"attributes": {}}}', "message.data: required"),
        (b'{"message": {"data": 5}}', "message.data: expected text, got a number"),
        (b'{"message": {"data": "e30="}}', "id: required"),
        (b'{"message": {"data": "WzFd"}}', "message.data: expected an object, got an array"),
        (b'{"message": {"data": "e30"}, "x": 1}', "id: required"),
        (b'{"message": {"data": "e30=="}}', "message.data: not valid base64"),
        (b'{"message": {"data": "e30-_"}}', "message.data: not valid base64"),
        (b'{"message": {"data": "e+_0"}}', "message.data: not valid base64"),
        (b'{"message": {"data": "e 30"}}', "message.data: not valid base64"),
        (b'{"message": {"data": "/w=="}}', "message.data: not valid UTF-8"),
        (b'{"specversion": "1.0"}', "data: expected an object, got nothing"),
        (b'{"data": "e30="}', "id: required"),
        (b'{"data": "%%%"}', "data: not valid base64"),
        (b'{"context": {}, "data": {"data": "%"}}', "data.data: not valid base64"),
    ],
)
def test_malformed_input_raises_one_line_naming_the_field(raw: bytes, expected: str) -> None:
    assert invalid(raw).startswith(expected)


def test_a_body_over_ten_mebibytes_is_rejected_before_parsing() -> None:
    huge = b" " * MAX_EVENT_BYTES + b"{}"

    assert invalid(huge) == f"event: larger than {MAX_EVENT_BYTES} bytes"
    assert invalid(huge.decode()) == f"event: larger than {MAX_EVENT_BYTES} bytes"


@pytest.mark.parametrize("value", [None, 3, "text", b"bytes", [], {}, {"message": None}])
def test_the_runtime_adapters_reject_what_is_not_a_message(value: object) -> None:
    for read_event in (from_cloud_event_data, from_background, from_envelope):
        with pytest.raises(InvalidEvent):
            read_event(value)


def test_parse_event_rejects_what_is_neither_bytes_nor_text() -> None:
    with pytest.raises(InvalidEvent, match=r"^event: expected bytes or text, got dict$"):
        parse_event({"id": "x"})  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["id", "status", "createTime", "results", "substitutions", "logUrl", "projectId"]
IMAGE_FIELDS = ["name", "digest"]


def check(raw: bytes | str) -> BuildEvent | None:
    """Parse, and hold the invariants of both outcomes."""
    try:
        event = parse_event(raw)
    except InvalidEvent as err:
        assert "\n" not in str(err) and "\r" not in str(err)
        return None
    for text in (event.branch, event.trigger_name, event.log_url, event.project_id):
        assert text is None or len(text.splitlines()) == 1
    assert all(is_digest(image.digest) for image in event.images)
    assert len({image.repository for image in event.images}) == len(event.images)
    return event


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_nothing_but_invalid_event(raw: bytes) -> None:
    check(raw)


@settings(max_examples=300)
@given(json_values)
def test_arbitrary_json_raises_nothing_but_invalid_event(value: object) -> None:
    check(json.dumps(value))
    try:
        from_cloud_event_data(value)
        from_background(value)
    except InvalidEvent:
        pass


@settings(max_examples=300)
@given(
    changes=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3),
    image_changes=st.dictionaries(st.sampled_from(IMAGE_FIELDS), json_values, max_size=2),
    subs=st.dictionaries(st.sampled_from(["BRANCH_NAME", "COMMIT_SHA", "TRIGGER_NAME"]), st.text()),
    status=st.sampled_from(sorted(STATUSES)),
    wrap=st.sampled_from(["build", "push", "cloudevent", "gen1"]),
)
def test_damaged_builds_in_any_envelope_raise_nothing_but_invalid_event(
    changes: dict[str, object],
    image_changes: dict[str, object],
    subs: dict[str, str],
    status: str,
    wrap: str,
) -> None:
    build = copy.deepcopy(load("build-success-two-images.json"))
    build["status"] = status
    build["substitutions"].update(subs)
    build["results"]["images"][1].update(image_changes)
    build.update(changes)
    data = encode(build)
    envelopes: dict[str, object] = {
        "build": build,
        "push": push_body(data),
        "cloudevent": {"specversion": "1.0", "id": "1", "data": push_body(data)},
        "gen1": {"context": {"eventId": "1"}, "data": {"data": data}},
    }

    event = check(json.dumps(envelopes[wrap]))

    if event is not None and not event.promotable:
        assert event.status == status


offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0, tzinfo=UTC)
)


def rfc3339(moment: datetime, nanos: int, digits: int) -> str:
    offset = moment.utcoffset() or timedelta()
    sign, minutes = ("-" if offset < timedelta() else "+"), abs(offset) // timedelta(minutes=1)
    dot = f".{nanos:09d}"[: digits + 1] if digits else ""
    return f"{moment:%Y-%m-%dT%H:%M:%S}{dot}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@settings(max_examples=300)
@given(
    instants,
    st.lists(
        st.tuples(st.integers(-1, 1), offsets, st.integers(0, 999_999_999), st.integers(0, 9)),
        min_size=2,
        max_size=6,
    ),
)
def test_build_time_order_is_the_order_of_instants(
    base: datetime, moments: list[tuple[int, timezone, int, int]]
) -> None:
    """Nearby instants, written in assorted offsets and precisions, sort by (seconds, nanos)."""
    parsed, expected = [], []
    for delta, zone, nanos, digits in moments:
        instant = base + timedelta(seconds=delta)
        kept = int(f"{nanos:09d}"[:digits].ljust(9, "0"))
        time = BuildTime.parse(rfc3339(instant.astimezone(zone), nanos, digits))
        assert (time.seconds, time.nanos) == (int(instant.timestamp()), kept)
        assert BuildTime.parse(time.text) == time
        assert time.text == rfc3339(instant, nanos, digits).replace("+00:00", "Z")
        parsed.append(time)
        expected.append((instant, kept))

    for (a, a_key), (b, b_key) in itertools.product(zip(parsed, expected, strict=True), repeat=2):
        assert (a < b, a == b) == (a_key < b_key, a_key == b_key)


def test_a_repository_name_may_be_255_characters_and_no_more() -> None:
    from promoter.images import MAX_NAME, Reference

    longest = "r.io/" + "a" * (MAX_NAME - 5)
    assert MAX_NAME == 255 and len(longest) == 255
    assert Reference.parse(f"{longest}:1").repository == longest
    with pytest.raises(ValueError, match="not a valid OCI image reference"):
        Reference.parse(f"{longest}a:1")


def test_a_body_of_exactly_ten_mebibytes_is_parsed() -> None:
    assert MAX_EVENT_BYTES == 10 * 2**20
    exact = b" " * (MAX_EVENT_BYTES - 2) + b"{}"
    assert invalid(exact).startswith("event: neither a Build")
    assert invalid(exact + b" ") == f"event: larger than {MAX_EVENT_BYTES} bytes"


def test_a_build_is_recognised_by_its_id_or_its_status_alone() -> None:
    assert invalid(json.dumps({"status": "SUCCESS"})).startswith("id: ")
    assert invalid(json.dumps({"id": "5d1c0e7a-2b3f-4c5d-8e9f-0a1b2c3d4e5f"})).startswith(
        "status: "
    )


@pytest.mark.parametrize("status", ["WORKING", "TIMEOUT", "QUEUED"])
def test_a_build_that_is_not_a_success_needs_no_create_time(status: str) -> None:
    build = load("build-success.json")
    build.update(status=status)
    del build["createTime"]
    event = parse_event(json.dumps(build))
    assert (event.status, event.promotable, event.create_time) == (status, False, None)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_one_repository_with_two_digests_is_refused_in_either_order(order) -> None:
    digests = ["sha256:" + "1" * 64, "sha256:" + "2" * 64]
    build = load("build-success.json")
    repository = build["results"]["images"][0]["name"].split(":")[0]
    build["results"]["images"] = [
        {"name": f"{repository}:v{n}", "digest": digests[n]} for n in order
    ]
    assert "has two digests in one build" in invalid(json.dumps(build))


def test_build_times_count_whole_seconds_since_the_epoch() -> None:
    when = BuildTime.parse("2026-03-02T09:14:07.9Z")
    assert when.seconds == 1772442847 and isinstance(when.seconds, int)
    assert BuildTime.parse("2026-03-02T10:14:07.9+01:00").seconds == when.seconds
    assert BuildTime.parse("2026-03-02T08:14:07.9-01:00").seconds == when.seconds


@pytest.mark.parametrize("data", ["AAAAA", "AAAAA===", "A", "AAAAAAAAA"])
def test_base64_of_an_impossible_length_is_refused_by_name(data: str) -> None:
    assert invalid(json.dumps({"message": {"data": data}})) == "message.data: not valid base64"


def test_a_log_url_of_more_than_two_thousand_characters_is_left_out():
    body = json.loads((DATA / "build-success.json").read_text())
    body["logUrl"] = "https://console.cloud.google.com/" + "x" * 140_000
    assert from_envelope(body).log_url is None
    body["logUrl"] = "https://console.cloud.google.com/" + "x" * 1_900
    assert from_envelope(body).log_url == body["logUrl"]
