"""Is the build a message claims the build Cloud Build has? Pure: only the comparison."""

from __future__ import annotations

from promoter.events import BuildEvent

NOT_VERIFIED = "not verified: "


def differences(claimed: BuildEvent, actual: BuildEvent | None) -> str | None:
    """Why `claimed` (the message) is not `actual` (the API's build), or None when it is."""
    if actual is None:
        project = claimed.project_id or "(no project)"
        return f"{NOT_VERIFIED}Cloud Build has no build {claimed.build_id} in {project}"
    found = []
    if actual.status != claimed.status:
        found.append(f"status {claimed.status}, Cloud Build says {actual.status}")
    if actual.project_id != claimed.project_id:
        found.append(f"project {claimed.project_id}, Cloud Build says {actual.project_id}")
    said = {image.repository: image.digest for image in claimed.images}
    built = {image.repository: image.digest for image in actual.images}
    for repository in sorted(said.keys() | built.keys()):
        if said.get(repository) != built.get(repository):
            found.append(
                f"{repository} digest {said.get(repository) or '(none)'},"
                f" Cloud Build says {built.get(repository) or '(none)'}"
            )
    return f"{NOT_VERIFIED}{'; '.join(found)}" if found else None
