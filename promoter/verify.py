"""Is the build a message claims the build Cloud Build has? Pure: only the comparison."""

from __future__ import annotations

from promoter.events import BuildEvent
from promoter.policy import Trust

NOT_VERIFIED = "not verified: "
NOT_TRUSTED = "not trusted: "


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


def untrusted(event: BuildEvent, trust: Trust, *, verified: bool) -> str | None:
    """Why promoter.yaml's `trust:` refuses `event`'s build, or None when it does not."""
    if trust.verify == "cloudbuild" and not verified:
        return (
            f"{NOT_VERIFIED}promoter.yaml requires builds verified with Cloud Build"
            " (trust.verify), and this instance does not verify them (PROMOTER_VERIFY_BUILDS)"
        )
    if trust.projects and event.project_id not in trust.projects:
        return f"{NOT_TRUSTED}project {event.project_id} is not in trust.projects"
    if trust.triggers and not {event.trigger_name, event.trigger_id} & set(trust.triggers):
        trigger = event.trigger_name or event.trigger_id or "(none)"
        return f"{NOT_TRUSTED}trigger {trigger} is not in trust.triggers"
    if trust.require_provenance and not event.provenance:
        return (
            f"{NOT_TRUSTED}the build did not ask for verified provenance"
            " (options.requestedVerifyOption: VERIFIED), which trust.requireProvenance requires"
        )
    return None
