"""FaultPlan: the spec language, deterministic triggers, and the chunk/assemble hooks."""

from __future__ import annotations

import pytest

from sentry_standin.errors import StandinConfigError as ConfigError
from sentry_standin.faults import FaultPlan, fault_plan

DEPLOYS = "/api/0/organizations/acme/releases/1.0/deploys/"


def fire_pattern(plan: FaultPlan, method: str, path: str, n: int) -> list[str | None]:
    """Which fault (as written) hits each of `n` requests."""
    out: list[str | None] = []
    for _ in range(n):
        fault = plan.decide(
            method, path, frozenset({"status", "429", "delay", "reset", "reset-after", "timeout"})
        )
        out.append(fault.describe() if fault else None)
    return out


def test_parse_reads_seed_methods_patterns_faults_and_triggers() -> None:
    plan = FaultPlan.parse(
        " seed=7 ; POST /organizations/*/releases/*/deploys/=reset-after@1;"
        "*/chunk-upload/*=503@rate:0.3;GET *=delay:0.25@2-3,5; PUT */=429:2@first:2;"
        "chunk/*=drop@1;assemble/*=stuck@1-2"
    )
    assert plan.seed == 7
    assert [(r.method, r.fault.describe()) for r in plan.rules] == [
        ("POST", "reset-after"),
        (None, "503"),
        ("GET", "delay:0.25"),
        ("PUT", "429"),
        (None, "drop"),
        (None, "stuck"),
    ]
    assert plan.rules[2].trigger.numbers == {2, 3, 5}
    assert plan.rules[3].fault.seconds == 2
    assert plan.rules[3].trigger.numbers == {1, 2}


def test_nth_request_per_rule_and_method_filter() -> None:
    plan = FaultPlan.parse(f"POST {DEPLOYS}=503@2;{DEPLOYS}=reset@4")
    assert fire_pattern(plan, "GET", DEPLOYS, 1) == [None]  # rule 1 is POST only; rule 2 counts 1
    assert fire_pattern(plan, "POST", DEPLOYS, 3) == [None, "503", "reset"]
    assert [i.count for i in plan.fired()] == [2, 4]


def test_patterns_match_with_or_without_api_prefix() -> None:
    for pattern in ("/organizations/acme/releases/*/deploys/", DEPLOYS, "*/deploys/"):
        plan = FaultPlan.parse(f"{pattern}=500")
        assert fire_pattern(plan, "POST", DEPLOYS, 1) == ["500"]
    plan = FaultPlan.parse("/organizations/other/*=500")
    assert fire_pattern(plan, "POST", DEPLOYS, 1) == [None]


def test_rate_is_seeded_and_deterministic() -> None:
    first = fire_pattern(FaultPlan.parse("seed=7;*=503@rate:0.3"), "GET", DEPLOYS, 200)
    again = fire_pattern(FaultPlan.parse("seed=7;*=503@rate:0.3"), "GET", DEPLOYS, 200)
    other = fire_pattern(FaultPlan.parse("seed=8;*=503@rate:0.3"), "GET", DEPLOYS, 200)
    assert first == again
    assert first != other
    assert 40 <= first.count("503") <= 80  # about 30% of 200


def test_disarm_stops_injection() -> None:
    plan = FaultPlan.parse("*=503")
    plan.disarm()
    assert fire_pattern(plan, "GET", DEPLOYS, 3) == [None, None, None]


def test_chunk_and_assemble_hooks() -> None:
    plan = FaultPlan.parse("chunk/*=drop@2;assemble/abc*=stuck@1-2")
    assert [plan.drop_chunk(c) for c in ("a1", "b2", "c3")] == [False, True, False]
    assert plan.assemble_state("abcdef") == "assembling"
    assert plan.assemble_state("zzz") is None  # not matching: not counted
    assert plan.assemble_state("abcdef") == "assembling"
    assert plan.assemble_state("abcdef") is None
    assert [i.fault for i in plan.fired()] == ["drop", "stuck", "stuck"]
    # HTTP faults never fire on the pseudo paths and vice versa
    assert FaultPlan.parse("*=503").drop_chunk("a1") is False


def test_fault_plan_of_a_server_without_one_injects_nothing() -> None:
    class Server:
        faults = None

    assert fault_plan(Server()).drop_chunk("x") is False
    assert fault_plan(Server()).assemble_state("x") is None


def test_rate_limit_headers() -> None:
    plan = FaultPlan.parse("*=429:3;*=429-retry-after:4;*=429-date:5;*=429-bare")
    plan.clock = lambda: 1_000.2
    sentry, retry_after, date, bare = (plan._rate_limit_headers(r.fault) for r in plan.rules)
    assert sentry["X-Sentry-Rate-Limit-Reset"] == "1004"
    assert "Retry-After" not in sentry
    assert retry_after == {"Retry-After": "4"}
    assert date["Retry-After"].endswith("GMT")
    assert bare == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("POST /x", "is not PATTERN=FAULT[@TRIGGER]"),
        ("=503", "is not PATTERN=FAULT[@TRIGGER]"),
        ("/x=teapot", "unknown fault 'teapot'"),
        ("/x=200", "unknown fault '200'"),
        ("/x=delay", "write delay:SECONDS"),
        ("/x=delay:-1", "must not be negative"),
        ("/x=503@0", "trigger '0' must be"),
        ("/x=503@3-1", "trigger '3-1' must be"),
        ("/x=503@rate:1.5", "trigger 'rate:1.5' must be"),
        ("/x=drop", "drop applies to chunk/* only"),
        ("/x=stuck", "stuck applies to assemble/* only"),
        ("seed=x", "seed must be an integer"),
    ],
)
def test_bad_specs_are_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        FaultPlan.parse(spec)
    assert message in str(info.value)
