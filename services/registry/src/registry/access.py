"""Who may see and change what. Enforced here, for every record the registry keeps.

Public (anonymous, viewer): published projects and practices, without personal data.
Implementer: its own organisation's records (lead implementer, practice owner).
Funder: the projects it funds (current or past dated funder), including status changes.
Coordinator and admin: everything.
Ministry: reads every project and practice like a coordinator, but never personal data (it is not
`project_private`) and writes nothing here.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from registry.models import Practice, Project, ProjectFunder
from shared.errors import Forbidden, NotFound
from shared.identity import Identity


def owns(identity: Identity, org_id: str | None) -> bool:
    return bool(identity.org and org_id and identity.org == org_id
                and identity.has_role("implementer", "funder"))


def project_private(identity: Identity, p: Project, past_funders: set[str] = frozenset()) -> bool:
    """May see the private parts (personal data, unpublished records) of this project."""
    if identity.is_national:
        return True
    if identity.has_role("implementer") and identity.org and identity.org == p.organisation_id:
        return True
    return bool(identity.has_role("funder") and identity.org
                and (identity.org == p.funder_id or identity.org in past_funders))


def project_open(identity: Identity, p: Project) -> bool:
    """Visible to this caller whoever funds it: national roles see everything, everyone a
    published project that is not archived (no need to look up past funders)."""
    return identity.is_national or (p.published and not p.archived)


def project_visible(identity: Identity, p: Project, past_funders: set[str] = frozenset()) -> bool:
    if identity.reads_national:
        return True
    if p.archived and not identity.is_national:
        return project_private(identity, p, past_funders)
    return p.published or project_private(identity, p, past_funders)


def may_edit_project(identity: Identity, p: Project) -> bool:
    if identity.is_national:
        return True
    if identity.has_role("implementer") and identity.org and identity.org == p.organisation_id:
        return True
    return bool(identity.has_role("funder") and identity.org and identity.org == p.funder_id)


def project_filter(identity: Identity, t=Project) -> ColumnElement[bool]:
    """SQL condition: the projects this caller may list (`t`: Project, or the search table's
    columns, which carry the same names)."""
    if identity.reads_national:
        return true()
    conds = [t.published.is_(True) & t.archived.is_(False)]
    if identity.org and identity.has_role("implementer"):
        conds.append(t.organisation_id == identity.org)
    if identity.org and identity.has_role("funder"):
        conds.append(t.funder_id == identity.org)
        conds.append(t.id.in_(select(ProjectFunder.project_id)
                              .where(ProjectFunder.organisation_id == identity.org)))
    return or_(*conds) if conds else false()


def practice_visible(identity: Identity, p: Practice) -> bool:
    if identity.reads_national:
        return True
    if identity.org and identity.has_role("implementer") and identity.org == p.organisation_id:
        return True
    return p.published and not p.archived


def practice_filter(identity: Identity) -> ColumnElement[bool]:
    if identity.reads_national:
        return true()
    conds = [Practice.published.is_(True) & Practice.archived.is_(False)]
    if identity.org and identity.has_role("implementer"):
        conds.append(Practice.organisation_id == identity.org)
    return or_(*conds)


def may_edit_practice(identity: Identity, p: Practice) -> bool:
    return identity.is_national or bool(
        identity.has_role("implementer") and identity.org and identity.org == p.organisation_id)


# Roles that see a national theme's contact persons. "ministry" is a role another part of
# issue 14 adds to shared.identity.ROLES; listed here so this check holds once it exists.
NATIONAL_ROLES = ("admin", "coordinator", "funder", "ministry")


def sees_national_contacts(identity: Identity) -> bool:
    """A theme's contact persons (personal data): national roles only, never the public."""
    return identity.has_role(*NATIONAL_ROLES)


def require_national(identity: Identity, what: str) -> None:
    if not identity.is_national:
        raise Forbidden(f"only coordinators and admins may {what}")


def hide(kind: str, entity_id: str) -> NotFound:
    """What a caller who may not see a record gets: the same answer as for a missing one."""
    return NotFound(f"no {kind} {entity_id}")
