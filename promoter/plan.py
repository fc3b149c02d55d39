"""Decide what one build event changes in the config repo: pure, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from promoter import ledger as ledger_file
from promoter.audit import FileChange
from promoter.environments import entry_environments
from promoter.errors import ManifestError
from promoter.events import BuildEvent
from promoter.holds import NO_HOLDS, Hold, Holds
from promoter.images import ImageRef
from promoter.ledger import Ledger, Record
from promoter.manifests import Change, Site
from promoter.pinning import FileSites
from promoter.policy import HelmTarget, ImageRule, Policy

Outcome = Literal["promoted", "unchanged", "ignored"]


@dataclass(frozen=True)
class Plan:
    """What to write: new file texts (the ledger included) and the changes they carry."""

    outcome: Outcome
    reason: str
    files: Mapping[str, str] = field(default_factory=dict)
    changes: tuple[FileChange, ...] = ()
    warning: bool = False  # a person should look: a file was skipped, the policy left out all


def plan(
    event: BuildEvent,
    *,
    policy: Policy,
    files: Mapping[str, str],
    ledger: Ledger,
    rolled_back: Collection[str] = (),
    unreadable: Collection[str] = (),
    holds: Holds = NO_HOLDS,
) -> Plan:
    """Turn `event` into edits of `files` (candidate manifests, path -> text).

    `rolled_back` names the files this very build was promoted into before: it is not written
    there again, so that reverting a promotion sticks when its message is delivered again.
    `unreadable`: candidates that could not be read at all ("PATH: why"), said in the reason.
    `holds`: images held in some files, and digests a rollback removed: neither is written.
    """
    if not event.promotable:
        return Plan("ignored", f"build status is {event.status}, only SUCCESS promotes")
    if not event.images:
        return Plan("ignored", "the build pushed no images (results.images is empty)")
    wanted = _wanted(event, policy)
    if not wanted:
        branch = event.branch or "(none)"
        return Plan(
            "ignored", f"promoter.yaml promotes none of the build's images from branch {branch}"
        )
    removed = [holds.removed(image.repository, image.digest) for image, _ in wanted.values()]
    notes = [f"{r.repository}@{r.digest} was rolled back" for r in removed if r is not None]
    wanted = {repository: w for repository, w in wanted.items() if not _removed(w[0], holds)}
    if not wanted:
        return Plan("ignored", f"rolled back: {'; '.join(notes)}")
    later = sorted(path for path in files if not policy.takes_builds(path))
    if later:  # files of environments fed by another: `promote-env` writes them, not builds
        files = {path: text for path, text in files.items() if path not in later}
        if not files and not unreadable:
            return Plan("ignored", _not_an_entry(policy, later))
        notes.append(f"left {len(later)} file(s) outside the entry environments")
    decided = _edit(event, wanted, files, ledger, frozenset(rolled_back), list(unreadable), holds)
    return replace(decided, reason=decided.reason + "".join(f"; {n}" for n in notes))


def _not_an_entry(policy: Policy, paths: list[str]) -> str:
    entries = ", ".join(
        f"{env.name} ({', '.join(env.paths)})" for env in entry_environments(policy.environments)
    )
    listed = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return (
        f"builds promote only into {entries or 'no environment'}, not into {listed}"
        " (promoter promote-env feeds the later environments)"
    )


def _removed(image: ImageRef, holds: Holds) -> bool:
    return holds.removed(image.repository, image.digest) is not None


_Wanted = dict[str, tuple[ImageRef, tuple[ImageRule, ...] | None]]
_Helm = dict[str, tuple[ImageRef, tuple[HelmTarget, ...]]]  # repository -> image, its entries


def _wanted(event: BuildEvent, policy: Policy) -> _Wanted:
    wanted: _Wanted = {}
    for image in event.images:
        rules = policy.rules_for(image.repository, event.branch)
        if rules is None or rules:
            wanted[image.repository] = (image, rules)
    return wanted


def _edit(
    event: BuildEvent,
    wanted: _Wanted,
    files: Mapping[str, str],
    ledger: Ledger,
    rolled_back: frozenset[str],
    skipped: list[str],
    holds: Holds,
) -> Plan:
    new_files: dict[str, str] = {}
    changes: list[FileChange] = []
    found, kept, left_out, held = False, [], [], list[Hold]()
    unmatched: tuple[str, ...] = ()
    for path in sorted(files):
        helm = _helm_for(path, wanted)
        images = {r: i for r, i in _images_for(path, wanted).items() if r not in helm}
        if not images and not helm:
            left_out.append(path)
            continue
        here = [hold for r in [*images, *helm] if (hold := holds.holding(r, path)) is not None]
        if here:  # held images are not written here, nor recorded as done
            held += here
            images = {r: i for r, i in images.items() if holds.holding(r, path) is None}
            helm = {r: h for r, h in helm.items() if holds.holding(r, path) is None}
            if not images and not helm:
                continue
        try:
            pinned = _pin(path, files[path], event=event, ledger=ledger, images=images, helm=helm)
        except ManifestError as err:
            skipped.append(str(err))
            continue
        found, unmatched = found or bool(pinned.sites), unmatched + pinned.unmatched
        if pinned.changes and path in rolled_back:
            kept.append(path)
        elif pinned.changes:
            new_files[path] = pinned.text
            changes += [FileChange(path, c.repository, c.old, c.new) for c in pinned.changes]
    skips = "".join(f"; skipped {reason}" for reason in skipped)
    note = skips + "".join(f"; {reason}" for reason in unmatched)
    if kept:
        note += f"; kept the rollback of build {event.build_id} in {', '.join(kept)}"
    warning = bool(skipped)
    if not found and held:  # every file naming the images holds them: not remembered as done
        return Plan("ignored", f"held: {_held(held)}{skips}", warning=warning)
    if held:
        note += f"; held: {_held(held)}"
    if not found:
        names = ", ".join(sorted(wanted))
        if left_out and not skipped and len(left_out) == len(files):
            return Plan("ignored", _left_out(names, left_out, wanted), warning=True)
        what = "no readable manifest" if skipped else "no manifest"
        return Plan(
            "ignored", f"{what} references {names}{note}", warning=warning or bool(unmatched)
        )
    if not changes and kept:
        # Everything this build would write was reverted: the rollback stands (a newer build
        # still promotes). Not "unchanged": the targets do not hold this build.
        return Plan(
            "ignored",
            f"rolled back: build {event.build_id} was reverted in {', '.join(kept)}{skips}",
            warning=warning,
        )
    if not changes:
        return Plan(
            "unchanged",
            f"targets already hold this build's digest or a newer build's{note}",
            warning=warning,
        )
    new_files[ledger_file.PATH] = _record(event, ledger, changes).to_text()
    return Plan(
        "promoted",
        f"pinned {len(changes)} image reference(s) in {len(new_files) - 1} file(s){note}",
        new_files,
        tuple(changes),
        warning,
    )


def _held(holds: list[Hold]) -> str:
    said = []
    for hold in dict.fromkeys(holds):
        why = f" ({hold.reason})" if hold.reason else ""
        said.append(f"{hold.repository} is held in {hold.path}{why}")
    return "; ".join(said)


def _left_out(names: str, paths: list[str], wanted: _Wanted) -> str:
    """The reason when promoter.yaml's paths leave out every file that names the images."""
    patterns = sorted(
        {p for _, rules in wanted.values() for rule in rules or () for p in rule.paths}
    )
    listed = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    reason = f"promoter.yaml's paths ({', '.join(patterns)}) leave out every file naming {names}"
    folders = [
        p
        for p in patterns
        if not any(c in p for c in "*?[{") and any(path.startswith(p + "/") for path in paths)
    ]
    hint = "".join(f"; {p!r} is a folder: its files are {p + '/**'!r}" for p in folders)
    return f"{reason}: {listed}{hint}"


def _images_for(path: str, wanted: _Wanted) -> dict[str, ImageRef]:
    return {
        repository: image
        for repository, (image, rules) in wanted.items()
        if rules is None or any(rule.allows_path(path) for rule in rules)
    }


@dataclass(frozen=True)
class _Pinned:
    """One file's sites, new text and changes; `unmatched`: Helm targets with no site."""

    sites: tuple[Site, ...]
    text: str
    changes: tuple[Change, ...]
    unmatched: tuple[str, ...] = ()


def _helm_for(path: str, wanted: _Wanted) -> _Helm:
    """The images `path` is a Helm values file for, with its `helm:` entries (a values file is
    a target only through them: `paths:` restricts manifests)."""
    helm: _Helm = {}
    for repository, (image, rules) in wanted.items():
        targets = tuple(dict.fromkeys(t for rule in rules or () for t in rule.helm_targets(path)))
        if targets:
            helm[repository] = (image, targets)
    return helm


def _pin(
    path: str,
    text: str,
    *,
    event: BuildEvent,
    ledger: Ledger,
    images: dict[str, ImageRef],
    helm: _Helm,
) -> _Pinned:
    """Pin the fresh sites of `images` (as a manifest) and of `helm` (as Helm values)."""
    targets = {r: t for r, (_, t) in helm.items()}
    read = FileSites.read(text, [*images, *helm], path=path, helm=targets)
    every = {**images, **{r: image for r, (image, _) in helm.items()}}
    new_text, changes = read.pin(_fresh(event, ledger, path, read.sites, every), text=text)
    return _Pinned(tuple(read.sites), new_text, tuple(changes), tuple(read.missing))


def _fresh(
    event: BuildEvent, ledger: Ledger, path: str, sites: list[Site], images: dict[str, ImageRef]
) -> dict[str, ImageRef]:
    """The images of `sites` whose target in `path` has not had this build or a newer one."""
    return {
        s.repository: images[s.repository]
        for s in sites
        if _is_fresh(event, ledger, path, s.repository)
    }


def _is_fresh(event: BuildEvent, ledger: Ledger, path: str, repository: str) -> bool:
    record = ledger.get((path, repository))
    return record is None or not (record.build_id == event.build_id or record.is_newer_than(event))


def _record(event: BuildEvent, ledger: Ledger, changes: list[FileChange]) -> Ledger:
    assert event.create_time is not None
    digests = {image.repository: image.digest for image in event.images}
    return ledger.with_records(
        Record(c.path, c.repository, event.build_id, event.create_time, digests[c.repository])
        for c in changes
    )
