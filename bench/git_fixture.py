"""A deterministic git repository of N commits, built in one `git fast-import` stream.

Fixed authors, dates and contents (seeded), a few files touched per commit (adds, edits,
deletes, renames as delete+add), and a merge every MERGE_EVERY commits, so `git log
--name-status` has real patch sets to walk. Same inputs, same SHAs, on every machine.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

AUTHORS = (
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Linus Pauling", "linus@example.org"),
    ("Zoë Müller", "zoe@example.de"),
    ("Søren Kierkegaard", "soren@example.dk"),
    ("bot", "ci-bot@users.noreply.example.com"),
)
START = 1_600_000_000  # fixed epoch: the same SHAs every run
STEP = 3_600
MERGE_EVERY = 50
REMOTE = "https://github.com/acme/bench.git"
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _content(rng: random.Random, path: str, rev: int) -> bytes:
    lines = [f"// {path} revision {rev}"]
    lines += [f"export const v{j} = {rng.randrange(10**6)};" for j in range(rng.randrange(3, 12))]
    return ("\n".join(lines) + "\n").encode()


def fast_import_stream(commits: int, seed: int = 0) -> bytes:
    """The fast-import input for `commits` commits on `main` (merges count as commits)."""
    rng = random.Random(seed)
    live: list[str] = []
    next_file = 0
    chunks: list[bytes] = []
    mark = 0
    made = 0
    while made < commits:
        side = made > 0 and made % MERGE_EVERY == MERGE_EVERY - 2 and commits - made >= 2
        ops: list[bytes] = []
        touched = rng.choice((1, 1, 2, 3, 5, 8)) if made else 5
        for _ in range(touched):
            roll = rng.random()
            if not live or roll < 0.25 or len(live) < 5:
                path = f"src/pkg{next_file % 40}/module{next_file}.ts"
                next_file += 1
                live.append(path)
            elif roll < 0.30 and len(live) > 20:
                gone = live.pop(rng.randrange(len(live)))
                ops.append(b"D " + gone.encode() + b"\n")
                continue
            elif roll < 0.33 and len(live) > 20:
                old = live.pop(rng.randrange(len(live)))
                path = old.replace(".ts", f"_r{made}.ts")
                ops.append(b"D " + old.encode() + b"\n")
                live.append(path)
            else:
                path = rng.choice(live)
            ops.append(
                b"M 100644 inline " + path.encode() + b"\n" + _data(_content(rng, path, made))
            )
        name, email = AUTHORS[rng.randrange(len(AUTHORS))]
        when = START + made * STEP
        subject = f"{rng.choice(('fix', 'feat', 'chore', 'refactor'))}: change {made}"
        body = "" if rng.random() < 0.7 else f"\n\nDetails for change {made}.\nRefs #{made % 997}\n"
        mark += 1
        head = [
            b"commit refs/heads/" + (b"side" if side else b"main") + b"\n",
            b"mark :%d\n" % mark,
            f"author {name} <{email}> {when} +0000\n".encode(),
            f"committer {name} <{email}> {when} +0000\n".encode(),
            _data((subject + body).encode()),
        ]
        if side:
            head.append(b"from :%d\n" % (mark - 1))
        elif mark > 1:
            head.append(
                b"from :%d\n" % (mark - 1 if made % MERGE_EVERY != MERGE_EVERY - 1 else mark - 2)
            )
            if made % MERGE_EVERY == MERGE_EVERY - 1 and made >= MERGE_EVERY - 1:
                head.append(b"merge :%d\n" % (mark - 1))
        chunks.extend(head)
        chunks.extend(ops)
        chunks.append(b"\n")
        made += 1
    chunks.append(b"reset refs/heads/side\nfrom 0000000000000000000000000000000000000000\n\n")
    return b"".join(chunks)


def make_repo(path: Path, commits: int, seed: int = 0) -> str:
    """Create the repository at `path` with a checked-out `main`; return the HEAD sha."""
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **GIT_ENV}

    def git(*args: str, data: bytes | None = None) -> str:
        done = subprocess.run(
            ["git", *args], cwd=path, env=env, input=data, capture_output=True, check=True
        )
        return done.stdout.decode().strip()

    git("init", "-q", "-b", "main")
    git("config", "user.name", "bench")
    git("config", "user.email", "bench@example.com")
    git("remote", "add", "origin", REMOTE)
    git("fast-import", "--quiet", data=fast_import_stream(commits, seed))
    if git("branch", "--list", "side"):
        git("branch", "-D", "side")
    git("reset", "-q", "--hard", "main")
    return git("rev-parse", "HEAD")
