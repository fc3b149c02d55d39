"""Turn a Cloud Build notification, in any envelope it arrives in, into a `BuildEvent`."""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

from promoter.errors import InvalidEvent
from promoter.images import ImageRef, Reference, is_digest

MAX_EVENT_BYTES = 10 * 1024 * 1024
STATUSES = frozenset(
    {"STATUS_UNKNOWN", "PENDING", "QUEUED", "WORKING", "SUCCESS"}
    | {"FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"}
)

_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Build times a real build can have: Cloud Build did not exist before 2000, and no clock runs a
# day ahead. A time outside would be promoted and then block (or skip the checks of) real builds.
EARLIEST_BUILD_SECONDS = 946_684_800  # 2000-01-01T00:00:00Z
MAX_CLOCK_AHEAD_SECONDS = 86_400
_BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_COMMIT = re.compile(r"[0-9a-fA-F]{7,64}")
_URL = re.compile(r"https?://[^/\s]+\S{0,2000}")  # Cloud Build's log URLs are ~150 characters
_PROJECT = re.compile(r"[a-z0-9][a-z0-9.:-]{0,127}")
_TRIGGER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_NAME = re.compile(r"projects/[a-z0-9][a-z0-9.:-]{0,127}/locations/[a-z0-9-]{1,63}/builds/[^/]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9_-]*={0,2}")
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
# Control characters, line and paragraph separators, and lone surrogates: any of them can
# break a log line or a commit message, or fail to encode.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_T = TypeVar("_T")
JsonObject = dict[str, object]


@dataclass(frozen=True, order=True)
class BuildTime:
    """A Cloud Build timestamp at full (nanosecond) precision, totally ordered."""

    seconds: int
    nanos: int
    text: str = field(compare=False)

    @classmethod
    def parse(cls, text: str) -> BuildTime:
        """Read RFC 3339 text with 0 to 9 fractional digits, or raise ValueError."""
        match = _TIME.fullmatch(text)
        if match is None:
            raise ValueError(f"not an RFC 3339 time: {_quote(text)}")
        year, month, day, hour, minute, second = map(int, match.groups()[:6])
        fraction, offset = match[7] or "", match[8]
        try:
            local = datetime(year, month, day, hour, minute, second, tzinfo=_zone(offset))
            utc = local.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValueError(f"not a valid time: {_quote(text)}") from None
        canonical = utc.replace(tzinfo=None).isoformat() + (f".{fraction}" if fraction else "")
        seconds = (utc - _EPOCH) // timedelta(seconds=1)
        return cls(seconds, int(fraction.ljust(9, "0")), f"{canonical}Z")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class BuildEvent:
    """What the promoter needs to know about one state change of one build."""

    build_id: str
    status: str
    create_time: BuildTime | None
    images: tuple[ImageRef, ...]
    branch: str | None
    source_commit: str | None
    log_url: str | None
    project_id: str | None
    trigger_name: str | None
    name: str | None = None  # projects/P/locations/L/builds/ID, where the message gives it
    trigger_id: str | None = None  # buildTriggerId
    provenance: bool = False  # the build asked for verified provenance (requestedVerifyOption)

    @property
    def promotable(self) -> bool:
        """Only a successful build has images worth promoting."""
        return self.status == "SUCCESS"


def check_create_time(event: BuildEvent, *, now: float) -> None:
    """Refuse a promotable build whose createTime no real build has (`now`: epoch seconds)."""
    created = event.create_time
    if created is None or not event.promotable:
        return
    if created.seconds < EARLIEST_BUILD_SECONDS or created.seconds > now + MAX_CLOCK_AHEAD_SECONDS:
        raise InvalidEvent(
            f"createTime: {created} is not a time a build can have"
            " (expected after 2000 and at most a day ahead of now)"
        )


def parse_event(raw: bytes | str) -> BuildEvent:
    """Read a notification from a file, stdin or an HTTP body, in any envelope."""
    if not isinstance(raw, bytes | str):
        raise InvalidEvent(f"event: expected bytes or text, got {type(raw).__name__}")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event: larger than {MAX_EVENT_BYTES} bytes")
    return from_envelope(_load_json(raw, "event"))


def from_envelope(obj: object) -> BuildEvent:
    """Read already-decoded JSON: a Build, a Pub/Sub message, a push body or a CloudEvent."""
    body = _object(obj, "event")
    if "specversion" in body:  # a structured-mode CloudEvent
        return _from_push(body.get("data"), "data")
    if "message" in body:  # a push body, or a binary-mode CloudEvent's data
        return _from_push(body, "")
    if isinstance(body.get("data"), dict):  # gen1: {"context": ..., "data": <message>}
        return _from_message(body["data"], "data")
    if "data" in body:  # a Pub/Sub message
        return _from_message(body, "")
    if "id" in body or "status" in body:
        return _from_build(body)
    raise InvalidEvent("event: neither a Build, a Pub/Sub message, a push body nor a CloudEvent")


def from_cloud_event_data(data: object) -> BuildEvent:
    """Read `cloud_event.data` as functions-framework hands it: {"message": ..., ...}."""
    if isinstance(data, bytes | str):
        data = _load_json(data, "data")
    return _from_push(data, "")


def message_data(data: object) -> bytes:
    """The decoded `message.data` of a push body as functions-framework hands it."""
    if isinstance(data, bytes | str):
        data = _load_json(data, "data")
    message = _object(_object(data, "").get("message"), "message")
    return _decode_base64(_required_str(message, "data", "message"), "message.data")


def from_background(data: object, context: object = None) -> BuildEvent:
    """Read a gen1 background function's `data`, which is the Pub/Sub message itself."""
    return _from_message(data, "message")


def _from_push(body: object, path: str) -> BuildEvent:
    return _from_message(_object(body, path).get("message"), _join(path, "message"))


def _from_message(message: object, path: str) -> BuildEvent:
    data_path = _join(path, "data")
    data = _required_str(_object(message, path), "data", path)
    build = _load_json(_decode_base64(data, data_path), data_path)
    return _from_build(_object(build, data_path))


def _from_build(build: JsonObject) -> BuildEvent:
    build_id = _required_str(build, "id", "")
    if not _BUILD_ID.fullmatch(build_id):
        raise InvalidEvent(f"id: expected a Cloud Build id, got {_quote(build_id)}")
    status = _required_str(build, "status", "")
    if status not in STATUSES:
        raise InvalidEvent(f"status: expected a Cloud Build status, got {_quote(status)}")
    substitutions = _substitutions(build)
    success = status == "SUCCESS"
    return BuildEvent(
        build_id=build_id,
        status=status,
        create_time=_create_time(build) if success else _or_default(_create_time, build, None),
        images=_images(build) if success else _or_default(_images, build, ()),
        branch=_branch(substitutions),
        source_commit=_source_commit(build, substitutions),
        log_url=_if_match(_URL, build.get("logUrl")),
        project_id=_if_match(_PROJECT, build.get("projectId")),
        trigger_name=_printable(substitutions.get("TRIGGER_NAME")),
        name=_build_name(build.get("name"), build_id),
        trigger_id=_if_match(_TRIGGER_ID, build.get("buildTriggerId")),
        provenance=_requested_verify(build.get("options")) == "VERIFIED",
    )


def _requested_verify(options: object) -> object:
    return options.get("requestedVerifyOption") if isinstance(options, dict) else None


def _build_name(name: object, build_id: str) -> str | None:
    """The build's resource name, if it is one and names this build."""
    if isinstance(name, str) and _NAME.fullmatch(name) and name.endswith(f"/builds/{build_id}"):
        return name
    return None


def _create_time(build: JsonObject) -> BuildTime:
    text = _required_str(build, "createTime", "")
    try:
        return BuildTime.parse(text)
    except ValueError:
        raise InvalidEvent(
            f"createTime: expected RFC 3339 like 2026-03-02T09:10:51.402118Z, got {_quote(text)}"
        ) from None


def _images(build: JsonObject) -> tuple[ImageRef, ...]:
    results = build.get("results")
    entries = None if results is None else _object(results, "results").get("images")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise InvalidEvent(f"results.images: expected an array, got {_describe(entries)}")
    kept: dict[str, ImageRef] = {}
    for index, entry in enumerate(entries):
        path = f"results.images[{index}]"
        image = _image(entry, path)
        first = kept.setdefault(image.repository, image)
        if first.digest != image.digest:
            raise InvalidEvent(
                f"{path}.digest: {image.repository} has two digests in one build,"
                f" {first.digest} and {image.digest}"
            )
        if first.tag is None:  # the first tag other than `latest` names the image
            kept[image.repository] = image
    return tuple(kept.values())


def _image(entry: object, path: str) -> ImageRef:
    fields = _object(entry, path)
    name = _required_str(fields, "name", path)
    digest = _required_str(fields, "digest", path)
    try:
        if not name.isascii():  # the OCI grammar is ASCII, but `\w` in Reference's tag is not
            raise ValueError(name)
        reference = Reference.parse(name)
    except ValueError:
        raise InvalidEvent(
            f"{path}.name: expected an OCI image reference, got {_quote(name)}"
        ) from None
    if not is_digest(digest):
        raise InvalidEvent(
            f"{path}.digest: expected sha256:<64 lowercase hex>, got {_quote(digest)}"
        )
    if reference.digest not in (None, digest):
        raise InvalidEvent(f"{path}.name: pinned to {reference.digest}, but digest is {digest}")
    tag = None if reference.tag == "latest" else reference.tag
    return ImageRef(reference.repository, digest, tag)


def _substitutions(build: JsonObject) -> dict[str, str]:
    given = build.get("substitutions")
    substitutions: dict[str, str] = {}
    for key, value in ({} if given is None else _object(given, "substitutions")).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidEvent(
                f"substitutions[{_describe(key)}]: expected text, got {_describe(value)}"
            )
        substitutions[key] = value
    return substitutions


def _branch(substitutions: dict[str, str]) -> str | None:
    branch = substitutions.get("BRANCH_NAME")
    if branch and _has_unsafe(branch):
        raise InvalidEvent(f"substitutions.BRANCH_NAME: control character in {_quote(branch)}")
    return branch or None


def _source_commit(build: JsonObject, substitutions: dict[str, str]) -> str | None:
    candidates = (
        substitutions.get("COMMIT_SHA"),
        _dig(build, "sourceProvenance", "resolvedRepoSource", "commitSha"),
        _dig(build, "sourceProvenance", "resolvedGitSource", "revision"),
    )
    found = next((c for c in candidates if isinstance(c, str) and _COMMIT.fullmatch(c)), None)
    return found.lower() if found else None


def _printable(text: str | None) -> str | None:
    """Replace what could break a line; the value is only shown, never acted on."""
    cleaned = "".join("\N{REPLACEMENT CHARACTER}" if _has_unsafe(c) else c for c in text or "")
    return cleaned.strip() or None


def _if_match(pattern: re.Pattern[str], value: object) -> str | None:
    if isinstance(value, str) and pattern.fullmatch(value) and not _has_unsafe(value):
        return value
    return None


def _decode_base64(text: str, path: str) -> bytes:
    unpadded = text.rstrip("=")
    padding_ok = unpadded == text or len(text) % 4 == 0
    if not _BASE64.fullmatch(text) or len(unpadded) % 4 == 1 or not padding_ok:
        raise InvalidEvent(f"{path}: not valid base64")
    padded = unpadded + "=" * (-len(unpadded) % 4)
    return base64.b64decode(padded.translate(_URLSAFE_TO_STANDARD), validate=True)


def _load_json(raw: bytes | str, path: str) -> object:
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise InvalidEvent(f"{path}: not valid UTF-8") from None
    except RecursionError:
        raise InvalidEvent(f"{path}: JSON nested too deeply") from None
    except ValueError as err:
        raise InvalidEvent(f"{path}: not valid JSON ({_one_line(err)})") from None


def _unique_keys(pairs: list[tuple[str, object]]) -> JsonObject:
    # Parsers disagree on which duplicate wins; a notification never has any.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _required_str(obj: JsonObject, key: str, path: str) -> str:
    value = obj.get(key)
    if value is None:
        raise InvalidEvent(f"{_join(path, key)}: required")
    if not isinstance(value, str):
        raise InvalidEvent(f"{_join(path, key)}: expected text, got {_describe(value)}")
    return value


def _object(value: object, path: str) -> JsonObject:
    if not isinstance(value, dict):
        raise InvalidEvent(f"{path or 'event'}: expected an object, got {_describe(value)}")
    return value


def _dig(obj: object, *keys: str) -> object:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _or_default(parse: Callable[[JsonObject], _T], build: JsonObject, default: _T) -> _T:
    try:
        return parse(build)
    except InvalidEvent:
        return default


def _zone(offset: str) -> timezone:
    if offset in ("Z", "z"):
        return UTC
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if minutes > 59:
        raise ValueError(f"offset minutes out of range: {offset}")
    return timezone((-1 if offset[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes))


def _has_unsafe(text: str) -> bool:
    return any(unicodedata.category(char) in _UNSAFE_CATEGORIES for char in text)


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return _quote(value)
    kinds = {bool: "a boolean", int: "a number", float: "a number", list: "an array"}
    return kinds.get(type(value), "an object" if isinstance(value, dict) else type(value).__name__)


def _quote(text: str) -> str:
    """Show a value from outside on one line, at most about 80 characters."""
    quoted = repr(text[:80])
    return quoted if len(text) <= 80 else f"{quoted}..."


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())[:120]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
