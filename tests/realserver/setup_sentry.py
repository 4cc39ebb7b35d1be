"""Run by `sentry exec` (Sentry's own Python 3.8): the user, org, team, projects and tokens the
real-server tier uses, created once and found again on a re-run (idempotent).

Writes {"org_token", "read_token", "ci_user_token", ...} as JSON to $REAL_SENTRY_OUT.
"""

import json
import os

from sentry.models import (
    ApiToken,
    Organization,
    OrganizationMember,
    OrganizationMemberTeam,
    Project,
    Team,
    User,
)

ORG = "acme"
PROJECTS = ("web", "api")
EMAIL = "admin@example.com"
# A user token per scope set under test (ApiToken.scope_list, `models/apitoken.py`).
USER_TOKENS = {
    # what the gate needs: org:read for events/sessions/stats_v2, event:read for issues
    "read_token": ["org:read", "project:read", "event:read"],
    # project:releases alone: the release step without org:ci
    "releases_token": ["project:releases"],
    # no scope the client asks for: provokes 403s on purpose
    "member_token": ["member:read"],
    # event:read without org:read: what the events endpoints check (differential test)
    "event_token": ["event:read"],
    # releases plus org:read: what lets set-commits auto list repositories on 23.7.1
    "orgread_token": ["org:read", "project:releases"],
}

user, _ = User.objects.get_or_create(
    username=EMAIL,
    defaults=dict(email=EMAIL, is_superuser=True, is_staff=True, is_active=True),
)
if not user.has_usable_password():
    user.set_password("admin-password")
    user.save()

org = Organization.objects.filter(slug=ORG).first()
if org is None:
    org = Organization.objects.create(name="Acme", slug=ORG)
member, _ = OrganizationMember.objects.get_or_create(
    organization=org, user_id=user.id, defaults=dict(role="owner")
)
team = Team.objects.filter(organization=org, slug="ci").first()
if team is None:
    team = Team.objects.create(organization=org, slug="ci", name="CI")
OrganizationMemberTeam.objects.get_or_create(organizationmember=member, team=team)
for slug in PROJECTS:
    project = Project.objects.filter(organization=org, slug=slug).first()
    if project is None:
        project = Project.objects.create(organization=org, slug=slug, name=slug, platform="node")
    project.add_team(team)

out = {}
for name, scopes in USER_TOKENS.items():
    found = [t for t in ApiToken.objects.filter(user_id=user.id) if t.get_scopes() == scopes]
    token = found[0] if found else ApiToken.objects.create(user_id=user.id, scope_list=scopes)
    out[name] = token.token


def org_ci_token():
    """An organization auth token (`sntrys_...`, scope org:ci only), the kind Sentry's UI
    makes for CI (`models/orgauthtoken.py`, `utils/security/orgauthtoken_token.py`)."""
    from django.conf import settings
    from sentry.models.orgauthtoken import OrgAuthToken
    from sentry.utils.security.orgauthtoken_token import generate_token, hash_token

    saved = os.path.join(os.environ["REAL_SENTRY_STATE"], "org-token.txt")
    if os.path.exists(saved):
        with open(saved) as f:
            token = f.read().strip()
        if OrgAuthToken.objects.filter(token_hashed=hash_token(token)).exists():
            return token
    token = generate_token(ORG, settings.SENTRY_OPTIONS.get("system.url-prefix") or "")
    OrgAuthToken.objects.create(
        organization_id=org.id,
        name="ci",
        scope_list=["org:ci"],
        token_hashed=hash_token(token),
        token_last_characters=token[-4:],
        created_by_id=user.id,
    )
    with open(saved, "w") as f:
        f.write(token)
    return token


out["org_token"] = org_ci_token()
out["project_ids"] = {
    p.slug: p.id for p in Project.objects.filter(organization=org, slug__in=PROJECTS)
}
with open(os.environ["REAL_SENTRY_OUT"], "w") as f:
    json.dump(out, f)
