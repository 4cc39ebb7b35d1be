"""The real tier's Snuba stand-in (no server needed): Sentry 23.7's `utils/snuba.py` asserts
the answer's `meta` names exactly the SELECT and BY columns it asked, so the stand-in reads
them from the SnQL query (a wrong or empty `meta` made release create answer 500)."""

from __future__ import annotations

import pytest
from tests.realserver.snuba_standin import names

# Queries as Sentry 23.7.1 sent them (tagstore `get_release_tags`, sessions, discover).
RELEASE_TAGS = (
    "MATCH (events) SELECT count() AS `times_seen`, min(timestamp) AS `first_seen`, "
    "max(timestamp) AS `last_seen` BY project_id, tags[sentry:release] WHERE timestamp >= "
    "toDateTime('2008-05-08T00:00:00') AND project_id IN tuple(2) LIMIT 1000"
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            RELEASE_TAGS,
            ["times_seen", "first_seen", "last_seen", "project_id", "tags[sentry:release]"],
        ),
        (
            "MATCH (sessions) SELECT sum(sessions) AS `sessions`, uniqIf(x, in(y, tuple(1, 2))) "
            "AS `u` BY bucketed_started, release WHERE org_id = 1 ORDER BY sessions DESC",
            ["sessions", "u", "bucketed_started", "release"],
        ),
        ("MATCH (events) SELECT count() WHERE project_id = 1", ["count()"]),
        ("", []),
    ],
)
def test_meta_names_every_selected_and_grouped_column(query: str, expected: list[str]) -> None:
    assert names(query) == expected
