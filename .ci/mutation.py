"""Mutation testing of the core modules with mutmut 3.x, one module at a time.

    .venv/bin/python .ci/mutation.py redact.py steps/commits.py   # or no argument: all six
    .venv/bin/python .ci/mutation.py --list                        # modules and their tests

Each module runs in its own work directory, `.mutation/<module>/` (git-ignored): `src` and
`tests` linked from the checkout, the project's pyproject.toml with a `[tool.mutmut]` table
that mutates only that module and selects only its fast tests (TESTS below), so a module's run
takes minutes. mutmut runs niced, with `--jobs` workers (default 2), the tests in process
(`-n0`, no xdist), `slow` tests left out and the 2 s budget off (a loaded machine must not kill
a mutant). It prints, per module: mutants, killed, survived, the score, then each survivor's
diff; survivors judged equivalent (EQUIVALENT below, each with why) are listed apart and
counted as killed in the adjusted score. Exit 1 when a module's adjusted score is under
--min (default 90). Outside the README's test command and outside `.ci/run`: it takes minutes
per module, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "src/sentry_release"
SURVIVING = ("survived", "no tests", "suspicious")

# Module (under src/sentry_release) -> the fast tests that pin it. Only these run against its
# mutants; a test that covers none of a mutant's functions is not run for it (mutmut's stats).
TESTS: dict[str, list[str]] = {
    # The gate and chunk modules are being reworked (their own issues): their lists are the
    # tests that import them today; check them with --list after those merges.
    "gate/policy.py": [
        "tests/unit/test_gate.py",
        "tests/unit/test_gate_rate.py",
        "tests/unit/test_gate_render.py",
        "tests/unit/test_gate_watch.py",
        "tests/unit/test_gate_release_match.py",
        "tests/unit/test_gate_rate_thresholds.py",
        "tests/unit/test_gate_final_look.py",
        "tests/unit/test_gate_health_verdict.py",
        "tests/unit/test_gate_issue_rules.py",
        "tests/unit/test_gate_verdict_rules.py",
        "tests/unit/test_gate_rate_reasons.py",
        "tests/e2e/test_gate_table.py",
    ],
    "gate/sequential.py": [
        "tests/unit/test_gate.py",
        "tests/unit/test_gate_rate.py",
        "tests/unit/test_gate_render.py",
        "tests/unit/test_gate_rate_thresholds.py",
        "tests/unit/test_gate_sequential_evidence.py",
    ],
    "sourcemaps/chunks.py": [
        "tests/unit/test_sourcemaps_upload.py",
        "tests/unit/test_sourcemaps_poll_spacing.py",
        "tests/unit/test_sourcemaps_chunk_protocol.py",
    ],
    "steps/commits.py": [
        "tests/unit/test_commits.py",
        "tests/unit/test_commits_range.py",
        "tests/unit/test_commits_remote_names.py",
        "tests/e2e/test_set_commits.py",
        "tests/e2e/test_set_commits_range.py",
        "tests/e2e/test_set_commits_auto.py",
    ],
    "redact.py": ["tests/unit/test_redact.py", "tests/unit/test_redact_urls.py"],
    "sentry/transport.py": [
        "tests/unit/test_client.py",
        "tests/unit/test_client_retries.py",
        "tests/unit/test_preconnect.py",
        "tests/unit/test_dry_run.py",
        "tests/unit/test_redact_urls.py",
        "tests/unit/test_transport_steps.py",
        "tests/unit/test_token_alphabet.py",
        "tests/unit/test_deterministic_failures.py",
        "tests/unit/test_custom_headers_origin.py",
        "tests/unit/test_sentry_clock.py",
        "tests/unit/test_transport_resend_rules.py",
        "tests/unit/test_transport_answers.py",
        "tests/unit/test_transport_upload_url_and_pages.py",
        "tests/unit/test_transport_network_errors.py",
        "tests/unit/test_transport_setup.py",
        "tests/unit/test_transport_judging.py",
        "tests/unit/test_transport_error_words.py",
        "tests/unit/test_transport_deadlines.py",
    ],
}

# Survivors judged equivalent: (module, the original line, the mutated line, both stripped
# as `mutmut show` prints them after `-` and `+`) -> why no input can tell the mutant from the
# original. Matched on the diff, not on mutmut's numbering, so an entry stops applying when
# the code it describes changes.
_BY_TEXT = (
    "forms sorted by text instead of length, longest still first where it matters: the only "
    "form of a secret found inside another of its forms is the secret ending in its one '%', "
    "a prefix of its percent-encoding, and a prefix sorts after the longer string in reverse "
    "text order too (tests/unit/test_redact.py, the secret ending in percent)"
)
_ENCODINGS_SORT = "return tuple(sorted((f for f in forms if f), key=len, reverse=True))"
_LOWERED = (
    "the name was lowercased just before: it holds no 'X', so stripping 'X' and '/' strips only '/'"
)
_SAME_REPO = 'a, b = a.lower().strip("/"), b.lower().strip("/")'
_COUNT = (
    "count = max(1, math.ceil(total / max(chunk_size, 1)), math.ceil(len(chunks) / per_request))"
)
_POOL = 'with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chunks") as pool:'
_V1_ANSWER = 'response = AssembleState("not_found", tuple(missing))  # v1: every chunk goes first'
_V1_WHY = (
    "without assemble-first the stand-in answer is read only for `failed` before the first "
    "send, and neither not_found with missing chunks nor any state outside error/not_found "
    "is failed; its chunks are all missing, so the first pass sends them either way"
)
_SEQ = "gate/sequential.py"
_UPPER_PAST = 'return log_e_value(buckets, math.exp(x), side="less", phi=phi) >= target'
_LOWER_PAST = (
    'return log_e_value(buckets, math.exp(x), side="greater", phi=phi, cap=BUCKET_CAP) < target'
)
_BOUNDS = 'return _search(buckets, alpha, phi, "lower"), _search(buckets, alpha, phi, "upper")'
_LOWER = 'lower = _search(usable, alpha, phi, "lower") if bounds and usable else 0.0'
_LOG_E = 'log_e = log_e_value(usable, max_ratio, side="greater", phi=phi, cap=BUCKET_CAP)'
_NOT_GREATER = (
    "log_e_value takes the alternatives above the null only for side == 'greater': any other "
    "value is the 'less' side, as 'less' is"
)
_NOT_UPPER = "_search reads its side only as side == 'upper': any other value is the lower side"
_DEFAULT_SIDE = "side defaults to 'greater' in log_e_value"
_TIE = (
    "differs only when a bisection point's log e-value equals ln(1/alpha) exactly, and then "
    "moves the bound by one bisection step (1.5e-6 relative), below what any test can pin"
)
_NO_ZERO_VARIANCE = (
    "unreachable: a usable bucket has n > 0, and with theta > 0 (the pooled ratio, or 1) and "
    "both exposures > 0, p lies strictly inside (0, 1), so the variance is > 0 and every "
    "usable bucket gives a term (p rounds to 0 or 1 only past theta*E_new/E_base of 2^+-53)"
)
_FEW_TERMS = "return max(1.0, prior)"
_POL = "gate/policy.py"
_STALE = 'if issue.kind != "new" and issue.last_seen is not None and issue.last_seen < since:'
_FIRST_SEEN = (
    "a new issue reaching this test was first seen at or after `since` (or has no first "
    "seen, which Sentry always sets), and Sentry's last seen is never before its first seen"
)
_BLANK = 'result = RateResult(pending, "", inp.unit, inp.mode, test)'
_REPLACED = "every return of _rate_rule replaces this placeholder reason with its own"
_LOOK = "last_look = final_p_value(inp.buckets, policy.max_ratio, phi) if final else 1.0"
_DECIDE_E = 'log_e = log_e_value(scaled, policy.max_ratio, side="greater", phi=phi, cap=BUCKET_CAP)'
_FLOAT_TIE = (
    "differs only when a p-value, bound or log e-value equals its threshold exactly as floats "
    "(a bisection's result or a binomial tail against a product of alpha); no input a test "
    "can build reaches such a tie"
)
_POL_TIES = {
    "if last_look < alpha * (1.0 - WATCH_SHARE) and floors:": "<=",
    "if final and test.upper < policy.max_ratio:": "<=",
    "if log_e >= math.log(1.0 / (alpha * WATCH_SHARE)):": ">",
    "if final_p_value(scaled, policy.max_ratio, phi) < alpha * (1.0 - WATCH_SHARE):": "<=",
    "return ratio_upper_bound(x, y, e_new, e_base, PASS_ALPHA) < policy.max_ratio": "<=",
}
EQUIVALENT: dict[tuple[str, str, str], str] = {
    (_POL, _STALE, _STALE.replace('"new"', '"XXnewXX"')): _FIRST_SEEN,
    (_POL, _STALE, _STALE.replace('"new"', '"NEW"')): _FIRST_SEEN,
    (_POL, _BLANK, _BLANK.replace('""', "None")): _REPLACED,
    (_POL, _BLANK, _BLANK.replace('""', '"XXXX"')): _REPLACED,
    (_POL, _LOOK, _LOOK.replace("else 1.0", "else 2.0")): (
        "while watching no p-value is under alpha * 0.2 either way: 1.0 and 2.0 both never are"
    ),
    (_POL, _DECIDE_E, _DECIDE_E.replace('"greater"', "None")): _NOT_GREATER,
    (_POL, _DECIDE_E, _DECIDE_E.replace('"greater"', '"XXgreaterXX"')): _NOT_GREATER,
    (_POL, _DECIDE_E, _DECIDE_E.replace('"greater"', '"GREATER"')): _NOT_GREATER,
    (_POL, _DECIDE_E, _DECIDE_E.replace('side="greater", ', "")): _DEFAULT_SIDE,
    **{
        (_POL, line, line.replace(op, f" {tie} ", 1)): _FLOAT_TIE
        for line, tie in _POL_TIES.items()
        for op in (" < ", " >= ")
        if op in line and op.strip() != tie
    },
    (
        _POL,
        'return "inf" if math.isinf(value) else f"{value:.2f}"',
        'return "inf" if (math.isinf(value)) and False else f"{value:.2f}"',
    ): "f'{x:.2f}' formats an infinite float as 'inf' too",
    (
        _POL,
        "rate = project_rates(obs.rates or ((obs.rate,) if obs.rate else ()), policy, final)",
        "rate = project_rates(obs.rates or ((obs.rate,) if (obs.rate) or True else ()), policy, "
        "final)",
    ): "project_rates of (None,) is rate_rule(None), exactly what project_rates of () returns",
    (_SEQ, _UPPER_PAST, _UPPER_PAST.replace('"less"', "None")): _NOT_GREATER,
    (_SEQ, _UPPER_PAST, _UPPER_PAST.replace('"less"', '"XXlessXX"')): _NOT_GREATER,
    (_SEQ, _UPPER_PAST, _UPPER_PAST.replace('"less"', '"LESS"')): _NOT_GREATER,
    (_SEQ, _UPPER_PAST, _UPPER_PAST.replace(">=", ">")): _TIE,
    (_SEQ, _LOWER_PAST, _LOWER_PAST.replace('side="greater", ', "")): _DEFAULT_SIDE,
    (_SEQ, _LOWER_PAST, _LOWER_PAST.replace("<", "<=")): _TIE,
    (_SEQ, _BOUNDS, _BOUNDS.replace('"lower"', "None")): _NOT_UPPER,
    (_SEQ, _BOUNDS, _BOUNDS.replace('"lower"', '"XXlowerXX"')): _NOT_UPPER,
    (_SEQ, _BOUNDS, _BOUNDS.replace('"lower"', '"LOWER"')): _NOT_UPPER,
    (_SEQ, _LOWER, _LOWER.replace('"lower"', "None")): _NOT_UPPER,
    (_SEQ, _LOWER, _LOWER.replace('"lower"', '"XXlowerXX"')): _NOT_UPPER,
    (_SEQ, _LOWER, _LOWER.replace('"lower"', '"LOWER"')): _NOT_UPPER,
    (_SEQ, _LOG_E, _LOG_E.replace('side="greater", ', "")): _DEFAULT_SIDE,
    (_SEQ, "if variance > 0:", "if variance >= 0:"): _NO_ZERO_VARIANCE,
    # the second `max(1.0, prior)`, after the terms are counted (the first one is killed)
    (_SEQ, _FEW_TERMS, "return max(None, prior)"): _NO_ZERO_VARIANCE,
    (_SEQ, _FEW_TERMS, "return max(1.0, None)"): _NO_ZERO_VARIANCE,
    (_SEQ, _FEW_TERMS, "return max(prior)"): _NO_ZERO_VARIANCE,
    (_SEQ, _FEW_TERMS, "return max(1.0, )"): _NO_ZERO_VARIANCE,
    (_SEQ, _FEW_TERMS, "return max(2.0, prior)"): _NO_ZERO_VARIANCE,
    ("redact.py", 'quote(secret, safe=""),', 'quote(secret, safe="XXXX"),'): (
        "letters are never percent-encoded, so adding 'X' to `safe` changes no output; "
        "'/' is still encoded (the default safe='/' is killed)"
    ),
    (
        "redact.py",
        _ENCODINGS_SORT,
        "return tuple(sorted((f for f in forms if f), key=None, reverse=True))",
    ): _BY_TEXT,
    (
        "redact.py",
        _ENCODINGS_SORT,
        "return tuple(sorted((f for f in forms if f), reverse=True))",
    ): _BY_TEXT,
    (
        "steps/commits.py",
        _SAME_REPO,
        'a, b = a.lower().strip("XX/XX"), b.lower().strip("/")',
    ): _LOWERED,
    (
        "steps/commits.py",
        _SAME_REPO,
        'a, b = a.lower().strip("/"), b.lower().strip("XX/XX")',
    ): _LOWERED,
    (
        "steps/commits.py",
        'previous, dots, commit = revs.partition("..")',
        'previous, dots, commit = revs.rpartition("..")',
    ): (
        "a spec holds at most one '..': git ref names cannot contain '..' (git "
        "check-ref-format) and shas hold no dot, so the first '..' is the last; a spec with "
        "two fails resolution either way"
    ),
    (
        "sourcemaps/chunks.py",
        _COUNT,
        "count = max(math.ceil(total / max(chunk_size, 1)), math.ceil(len(chunks) / per_request))",
    ): (
        "the count is at least 1 whenever there is a chunk (ceil(n / per_request) >= 1), and "
        "with no chunk the loop that reads it never runs"
    ),
    **{
        (
            "sourcemaps/chunks.py",
            _POOL,
            f"with ThreadPoolExecutor(max_workers=workers, {after}) as pool:",
        ): ("the worker threads' names reach no request and no output")
        for after in (
            "thread_name_prefix=None",
            "",
            'thread_name_prefix="XXchunksXX"',
            'thread_name_prefix="CHUNKS"',
        )
    },
    ("sourcemaps/chunks.py", "asked_at = clock()", "asked_at = None"): (
        "every path calls assemble(), which sets asked_at, before the first poll's sleep reads "
        "it; the first value is there for the closure's `nonlocal`"
    ),
    **{
        ("sourcemaps/chunks.py", _V1_ANSWER, f"{after}  # v1: every chunk goes first"): _V1_WHY
        for after in (
            "response = AssembleState(None, tuple(missing))",
            "response = AssembleState(tuple(missing))",
            'response = AssembleState("XXnot_foundXX", tuple(missing))',
            'response = AssembleState("NOT_FOUND", tuple(missing))',
        )
    },
    ("sourcemaps/chunks.py", "asked_again = not options.assemble_first", "asked_again = None"): (
        "None and False are both false (assemble first); without assemble-first the bundle's "
        "chunks (at least one) are all missing, so the first pass sends them and sets "
        "asked_again before anything reads it"
    ),
    ("steps/commits.py", 'why = ""', "why = None"): (
        "both are falsy and `why` is only read after `if not why:` has set it"
    ),
    (
        "steps/commits.py",
        "matched = match_repo(integrated, urls) if urls else None",
        "matched = match_repo(integrated, urls) if (urls) or True else None",
    ): "match_repo with no URLs matches nothing: None either way",
    (
        "steps/commits.py",
        'return f"{host.lower()}/{path.lower()}" if host else "/" + path.lower()',
        'return f"{host.lower()}/{path.lower()}" if (host) or True else "/" + path.lower()',
    ): "with an empty host the f-string is '/' + path too",
    (
        "steps/commits.py",
        "owner = previous.last_commit_repository if repository else None",
        "owner = previous.last_commit_repository if (repository) or True else None",
    ): "without `repository` the next test (`owner and repository and ...`) is false anyway",
    (
        "steps/commits.py",
        "warnings += fill_depth(repo, options.initial_depth, options.remote, out)",
        "warnings = fill_depth(repo, options.initial_depth, options.remote, out)",
    ): (
        "in the first-release branch `warnings` is still empty there; the same mutant in the "
        "--ignore-missing branch drops a warning and is killed "
        "(test_ignore_missing_in_a_shallow_clone_that_cannot_fetch_warns_twice)"
    ),
    (
        "sentry/transport.py",
        'worker = threading.Thread(target=work, name="sentry-request", daemon=True)',
        "worker = threading.Thread(target=work, name=None, daemon=True)",
    ): (
        "the worker thread's name is read by nothing: no message, log line or test output shows it"
    ),
    (
        "sentry/transport.py",
        'worker = threading.Thread(target=work, name="sentry-request", daemon=True)',
        "worker = threading.Thread(target=work, daemon=True)",
    ): (
        "the worker thread's name is read by nothing: no message, log line or test output shows it"
    ),
    (
        "sentry/transport.py",
        'worker = threading.Thread(target=work, name="sentry-request", daemon=True)',
        'worker = threading.Thread(target=work, name="XXsentry-requestXX", daemon=True)',
    ): (
        "the worker thread's name is read by nothing: no message, log line or test output shows it"
    ),
    (
        "sentry/transport.py",
        'worker = threading.Thread(target=work, name="sentry-request", daemon=True)',
        'worker = threading.Thread(target=work, name="SENTRY-REQUEST", daemon=True)',
    ): (
        "the worker thread's name is read by nothing: no message, log line or test output shows it"
    ),
    (
        "sentry/transport.py",
        "for chunk in response.iter_content(64 * 1024):",
        "for chunk in response.iter_content(None):",
    ): (
        "the read size only slices the body differently: the size cap and the deadline are checked"
        " after every slice, and the joined body is the same"
    ),
    (
        "sentry/transport.py",
        "for chunk in response.iter_content(64 * 1024):",
        "for chunk in response.iter_content(65 * 1024):",
    ): (
        "the read size only slices the body differently: the size cap and the deadline are checked"
        " after every slice, and the joined body is the same"
    ),
    (
        "sentry/transport.py",
        "for chunk in response.iter_content(64 * 1024):",
        "for chunk in response.iter_content(64 * 1025):",
    ): (
        "the read size only slices the body differently: the size cap and the deadline are checked"
        " after every slice, and the joined body is the same"
    ),
    (
        "sentry/transport.py",
        "return isinstance(exc, requests.ConnectTimeout) or _refused(exc)",
        "return isinstance(exc, requests.ConnectTimeout) or _refused(None)",
    ): (
        "`_never_sent` is only called after `_network_error` has returned for a refused "
        "connection, so `_refused(exc)` is always false there"
    ),
    (
        "sentry/transport.py",
        'if origin(prepared_request.url or "") != origin(response.request.url or ""):',
        'if origin(prepared_request.url or "XXXX") != origin(response.request.url or ""):',
    ): ("requests always sets both URLs during a redirect: the fallback is never used"),
    (
        "sentry/transport.py",
        'if origin(prepared_request.url or "") != origin(response.request.url or ""):',
        'if origin(prepared_request.url or "") != origin(response.request.url or "XXXX"):',
    ): ("requests always sets both URLs during a redirect: the fallback is never used"),
    (
        "sentry/transport.py",
        'return redact(url.split("?", 1)[0].replace(self.api_url, ""))',
        'return redact(url.split("?", )[0].replace(self.api_url, ""))',
    ): (
        "only the part before the first '?' is kept: how many further splits are made changes "
        "nothing"
    ),
    (
        "sentry/transport.py",
        'return redact(url.split("?", 1)[0].replace(self.api_url, ""))',
        'return redact(url.split("?", 2)[0].replace(self.api_url, ""))',
    ): (
        "only the part before the first '?' is kept: how many further splits are made changes "
        "nothing"
    ),
    (
        "sentry/transport.py",
        'headers = {"User-Agent": USER_AGENT}',
        'headers = {"user-agent": USER_AGENT}',
    ): (
        "header names are case-insensitive: requests merges them in a CaseInsensitiveDict, so the "
        "same one User-Agent goes out (and a custom User-Agent still replaces it)"
    ),
    (
        "sentry/transport.py",
        'headers = {"User-Agent": USER_AGENT}',
        'headers = {"USER-AGENT": USER_AGENT}',
    ): (
        "header names are case-insensitive: requests merges them in a CaseInsensitiveDict, so the "
        "same one User-Agent goes out (and a custom User-Agent still replaces it)"
    ),
    (
        "sentry/transport.py",
        'parsed = email.utils.parsedate_to_datetime(headers.get("Date") or "")',
        'parsed = email.utils.parsedate_to_datetime(headers.get("Date") or "XXXX")',
    ): ("without a Date both '' and 'XXXX' fail to parse with ValueError, and `now` is returned"),
    (
        "sentry/transport.py",
        'f"{self._step_limit or 0:g}s deadline (raise it with --step-timeout)",',
        'f"{self._step_limit or 1:g}s deadline (raise it with --step-timeout)",',
    ): (
        "the deadline message is only reached with a step or a step timeout set, and `step()` sets"
        " none for a zero limit: `_step_limit` is never falsy there"
    ),
    (
        "sentry/transport.py",
        'retriable = repeatable or bool(getattr(exc, "unsent", False))',
        'retriable = repeatable or bool(getattr(exc, "unsent", None))',
    ): ("bool(None) is False, as bool(False)"),
    (
        "sentry/transport.py",
        "if time.monotonic() > deadline:",
        "if time.monotonic() >= deadline:",
    ): (
        "the two differ only when a monotonic clock reading lands exactly on the deadline, which "
        "no input can arrange"
    ),
    (
        "sentry/transport.py",
        "if remaining is not None and remaining <= 0:",
        "if remaining is not None and remaining < 0:",
    ): (
        "the two differ only when a monotonic clock reading lands exactly on the deadline, which "
        "no input can arrange"
    ),
    (
        "sentry/transport.py",
        "remaining is not None and outcome.delay >= remaining",
        "remaining is not None and outcome.delay > remaining",
    ): (
        "the two differ only when a monotonic clock reading lands exactly on the deadline, which "
        "no input can arrange"
    ),
    (
        "sentry/transport.py",
        "if left <= 0:",
        "if left < 0:",
    ): (
        "the two differ only when a monotonic clock reading lands exactly on the deadline, which "
        "no input can arrange"
    ),
    (
        "sentry/transport.py",
        'for rel, results, cursor in _CURSOR_RE.findall(link or ""):',
        'for rel, results, cursor in _CURSOR_RE.findall(link or "XXXX"):',
    ): ("without a Link header the pattern finds no cursor in '' nor in 'XXXX'"),
    (
        "sentry/transport.py",
        "cursor: str | None = None",
        'cursor: str | None = ""',
    ): (
        "both are falsy: the first page is asked without a cursor either way, and `cursor` is "
        "reassigned before it is read again"
    ),
    (
        "sentry/transport.py",
        'cursor = next_cursor(reply.headers.get("Link"))',
        'cursor = next_cursor(reply.headers.get("link"))',
    ): ("requests' response headers are a CaseInsensitiveDict"),
    (
        "sentry/transport.py",
        'cursor = next_cursor(reply.headers.get("Link"))',
        'cursor = next_cursor(reply.headers.get("LINK"))',
    ): ("requests' response headers are a CaseInsensitiveDict"),
}


@dataclass
class Outcome:
    module: str
    status: dict[str, str] = field(default_factory=dict)  # mutant -> mutmut's status
    diffs: dict[str, str] = field(default_factory=dict)  # survivor -> its diff
    equivalent: dict[str, str] = field(default_factory=dict)  # survivor -> why

    def count(self, *states: str) -> int:
        return sum(1 for s in self.status.values() if s in states)

    @property
    def killed(self) -> int:
        return self.count("killed", "timeout", "caught by type check", "segfault")

    @property
    def survivors(self) -> list[str]:
        return [m for m, s in self.status.items() if s in SURVIVING]

    def score(self, adjusted: bool = False) -> float:
        counted = [s for s in self.status.values() if s not in ("skipped", "not checked")]
        if not counted:
            return 0.0
        extra = len(self.equivalent) if adjusted else 0
        return 100.0 * (self.killed + extra) / len(counted)


def workdir(module: str) -> Path:
    return ROOT / ".mutation" / module.removesuffix(".py").replace("/", ".")


def prepare(module: str) -> Path:
    """A fresh work directory for `module`: links to src and tests, its own mutmut table."""
    tests = [t for t in TESTS[module] if (ROOT / t).exists()]
    if not tests:  # an empty selection would run the whole suite against every mutant
        raise SystemExit(f"mutation: none of {module}'s tests exist: fix TESTS")
    work = workdir(module)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "src").symlink_to(ROOT / "src", target_is_directory=True)
    (work / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    table = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["src"]',
            f'only_mutate = ["{PACKAGE}/{module}"]',
            # In process (no xdist workers), the fast tests only, no pytest cache in src.
            "pytest_add_cli_args = "
            + repr(["-n0", "-p", "no:cacheprovider", "-m", "not slow", "-q"]).replace("'", '"'),
            "pytest_add_cli_args_test_selection = " + repr(tests).replace("'", '"'),
            "",
        ]
    )
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (work / "pyproject.toml").write_text(text + table, encoding="utf-8")
    return work


def mutmut(work: Path, *args: str, capture: bool = False) -> str:
    env = {**os.environ, "SENTRY_RELEASE_TEST_BUDGET": "0"}
    command = ["nice", "-n", "10", sys.executable, "-m", "mutmut", *args]
    done = subprocess.run(
        command, cwd=work, env=env, text=True, capture_output=capture, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"mutation: {' '.join(args)} failed in {work} ({done.returncode})")
    return done.stdout if capture else ""


def changed_lines(diff: str, sign: str) -> list[str]:
    """The lines a diff takes away (`-`) or adds (`+`), stripped."""
    return [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith(sign) and not line.startswith(sign * 3)
    ]


def equivalent(module: str, diff: str) -> str | None:
    removed, added = changed_lines(diff, "-"), changed_lines(diff, "+")
    for (where, before, after), why in EQUIVALENT.items():
        if where == module and before in removed and after in added:
            return why
    return None


def results(work: Path) -> dict[str, str]:
    status = {}
    for line in mutmut(work, "results", "--all", "true", capture=True).splitlines():
        match = re.match(r"^\s+(\S+): (.+)$", line)
        if match:
            status[match[1]] = match[2].strip()
    return status


def run_module(module: str, jobs: int, recheck: bool = False) -> Outcome:
    """A full run; with `recheck`, only the survivors of the last full run, against the tests
    as they are now (the killed stay killed: tests were added, not taken away)."""
    saved = workdir(module).parent / f"{workdir(module).name}.json"
    before: dict[str, str] = {}
    if recheck:
        if not saved.exists():
            raise SystemExit(f"mutation: no earlier run of {module} to recheck ({saved})")
        before = json.loads(saved.read_text(encoding="utf-8"))
    work = prepare(module)
    print(f"== {module}: mutmut on {', '.join(TESTS[module])}", flush=True)
    again = [m for m, s in before.items() if s in SURVIVING]
    if recheck and not again:
        status = before
    else:
        mutmut(work, "run", "--max-children", str(jobs), *again)
        status = {**before, **{m: s for m, s in results(work).items() if not again or m in again}}
    if not recheck:
        saved.write_text(json.dumps(status, indent=1), encoding="utf-8")
    outcome = Outcome(module, status)
    for name in outcome.survivors:
        diff = mutmut(work, "show", name, capture=True)
        outcome.diffs[name] = diff
        why = equivalent(module, diff)
        if why:
            outcome.equivalent[name] = why
    return outcome


def report(outcome: Outcome) -> None:
    o = outcome
    print(f"\n== {o.module}")
    print(
        f"mutants {len(o.status)}, killed {o.killed}, survived {len(o.survivors)}"
        f" (equivalent {len(o.equivalent)}), score {o.score():.1f}%,"
        f" adjusted {o.score(adjusted=True):.1f}%"
    )
    for name in o.survivors:
        label = "equivalent" if name in o.equivalent else o.status[name]
        print(f"\n-- {label}: {name}")
        if name in o.equivalent:
            print(f"   why: {o.equivalent[name]}")
        print(o.diffs[name].rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"under {PACKAGE}/ (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutmut workers (default 2)")
    parser.add_argument("--min", type=float, default=90.0, help="adjusted score to reach")
    parser.add_argument("--list", action="store_true", help="the modules and their tests")
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="run only the survivors of the module's last full run (after adding tests)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for module, tests in TESTS.items():
            print(f"{module}: {' '.join(tests)}")
        return 0
    unknown = [m for m in args.modules if m not in TESTS]
    if unknown:
        parser.error(f"not a core module: {', '.join(unknown)} (choose from {', '.join(TESTS)})")
    outcomes = [run_module(m, args.jobs, args.recheck) for m in (args.modules or list(TESTS))]
    for outcome in outcomes:
        report(outcome)
    print("\n== summary")
    for o in outcomes:
        print(
            f"{o.module}: {len(o.status)} mutants, {o.killed} killed, {len(o.survivors)} survived"
            f" ({len(o.equivalent)} equivalent), score {o.score():.1f}%"
            f" (adjusted {o.score(adjusted=True):.1f}%)"
        )
    return 0 if all(o.score(adjusted=True) >= args.min for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
