"""Roll an image back: its targets get the digests they held at an earlier commit. Pure.

A rollback is a new commit, never a history rewrite. Each file naming the image is pinned again
to the digest it held then (byte-minimally, like a promotion); the ledger's records for those
files go back to what they were then; and every digest it removed is listed in
`.promoter/rolled-back.jsonl`, so that no event promotes it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from promoter import ledger as ledger_file
from promoter.audit import FileChange
from promoter.errors import ManifestError
from promoter.helmvalues import Targets
from promoter.holds import RolledBack
from promoter.images import ImageRef, Reference
from promoter.ledger import Ledger
from promoter.manifests import Site
from promoter.pinning import FileSites


@dataclass(frozen=True)
class Restoration:
    """The new texts (manifests, ledger, rolled-back list), the changes, what was removed."""

    files: Mapping[str, str]
    changes: tuple[FileChange, ...]
    removed: tuple[RolledBack, ...]
    skipped: tuple[str, ...]


def restore(
    repository: str,
    *,
    now: Mapping[str, str],
    then: Mapping[str, str],
    ledger: Ledger,
    ledger_then: Ledger,
    helm: Mapping[str, Targets] | None = None,
    reason: str = "",
    when: str = "",
) -> Restoration:
    """Pin `repository` in each file of `now` (path -> text) to its digest in `then`.

    A file missing from `then`, or which held no digest of the image then, is left as it is and
    named in `skipped`. `helm`: by path, the Helm values targets of the image there.
    """
    files: dict[str, str] = {}
    changes: list[FileChange] = []
    removed: dict[str, RolledBack] = {}
    skipped: list[str] = []
    records = dict(ledger.records)
    for path in sorted(now):
        try:
            targets = (helm or {}).get(path, {})
            earlier = _earlier(repository, then.get(path), path, targets)
            if earlier is None:
                skipped.append(f"{path}: held no digest of {repository} then")
                continue
            read = FileSites.read(now[path], {repository}, path=path, helm=targets)
            text, pinned = read.pin({repository: earlier}, text=now[path])
        except ManifestError as err:
            skipped.append(str(err))
            continue
        if not pinned:
            continue
        files[path] = text
        changes += [FileChange(path, repository, c.old, c.new) for c in pinned]
        current = ledger.get((path, repository))
        for site in read.sites:
            if site.digest and site.digest != earlier.digest:
                build = current.build_id if current and current.digest == site.digest else ""
                removed.setdefault(
                    site.digest, RolledBack(repository, site.digest, build, reason, when)
                )
        previous = ledger_then.get((path, repository))
        if previous is not None and previous.digest == earlier.digest:
            records[(path, repository)] = previous
        else:
            records.pop((path, repository), None)
    kept = {c.new.rpartition("@")[2] for c in changes}
    gone = tuple(r for digest, r in sorted(removed.items()) if digest not in kept)
    if changes:
        files[ledger_file.PATH] = Ledger(records).to_text()
    return Restoration(files, tuple(changes), gone, tuple(skipped))


def _earlier(repository: str, text: str | None, path: str, helm: Targets) -> ImageRef | None:
    """The image `text` pinned `repository` to (its first digest-pinned site), if any."""
    if text is None:
        return None
    sites = FileSites.read(text, {repository}, path=path, helm=helm).sites
    site = next((s for s in sites if s.digest), None)
    return None if site is None or site.digest is None else _image(site, site.digest)


def _image(site: Site, digest: str) -> ImageRef:
    try:
        tag = Reference.parse(site.image).tag
    except ValueError:
        tag = None
    return ImageRef(site.repository, digest, tag)
