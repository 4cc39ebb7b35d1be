"""Benchmark: associate a 10,000-commit history, ours vs `sentry-cli releases set-commits --local`.

    python bench/commits_fixture.py [--commits 10000] [--files 3] [--keep DIR]

Builds the repository with one `git fast-import` (seconds, not minutes), starts the Sentry
stand-in in-process, then times each tool end to end as a user runs it (a fresh process,
no previous release, `--initial-depth N` so the whole history is sent). Both are checked to
leave N commits on their release. Not a test: no timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sentry_standin import DevServer, Store

ORG, TOKEN = "acme", "bench-token"


def build_history(path: Path, commits: int, files_per_commit: int) -> None:
    """A linear history where each commit modifies, adds or deletes a few files."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    subprocess.run(
        ["git", "remote", "add", "origin", "https://github.com/acme/bench.git"],
        cwd=path,
        check=True,
    )
    out = bytearray()
    live: list[str] = []
    for i in range(commits):
        message = f"change {i}\n\nBody of commit {i}.\n".encode()
        stamp = 1_600_000_000 + i * 60
        out += b"commit refs/heads/main\n"
        out += b"author Dev %d <dev%d@example.com> %d +0100\n" % (i % 17, i % 17, stamp)
        out += b"committer CI <ci@example.com> %d +0000\n" % stamp
        out += b"data %d\n%s" % (len(message), message)
        for j in range(files_per_commit):
            if live and (i + j) % 11 == 0:
                gone = live.pop((i * 7 + j) % len(live))
                out += b"D %s\n" % gone.encode()
                continue
            if not live or (i + j) % 3 == 0:
                name = f"src/pkg{i % 40}/mod{i}_{j}.py"
                live.append(name)
            else:
                name = live[(i * 31 + j) % len(live)]
            body = f"# {i} {j}\n".encode()
            out += b"M 644 inline %s\ndata %d\n%s\n" % (name.encode(), len(body), body)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(out), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=path, check=True)


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=3, help="file changes per commit")
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    opts = parser.parse_args()

    workdir = opts.keep or Path(tempfile.mkdtemp(prefix="sentry-release-bench-"))
    repo = workdir / "repo"
    started = time.perf_counter()
    build_history(repo, opts.commits, opts.files)
    print(f"built {opts.commits} commits with fast-import in {time.perf_counter() - started:.1f}s")

    sentry_cli = shutil.which("sentry-cli") or shutil.which(
        "sentry-cli", path=str(Path(sys.executable).parent)
    )
    store = Store(orgs=(ORG,), projects=("web", "api"), tokens=(TOKEN,))
    with DevServer(store) as server:
        env = {
            **os.environ,
            "SENTRY_URL": server.url,
            "SENTRY_AUTH_TOKEN": TOKEN,
            "SENTRY_ORG": ORG,
        }
        depth = str(opts.commits)
        ours = timed(
            [sys.executable, "-m", "sentry_release", "new", "bench-ours", "-p", "web"], env, repo
        )
        ours = timed(
            [
                sys.executable,
                "-m",
                "sentry_release",
                "set-commits",
                "bench-ours",
                "--mode",
                "local",
                "--initial-depth",
                depth,
            ],
            {**env, "SENTRY_PROJECT": "web"},
            repo,
        )
        held = len(store.release(ORG, "bench-ours")["commits"])  # type: ignore[index]
        print(f"sentry-release set-commits --mode local: {ours:.2f}s ({held} commits held)")
        if sentry_cli:
            theirs = timed(
                [
                    sentry_cli,
                    "releases",
                    "set-commits",
                    "bench-cli",
                    "--local",
                    "--initial-depth",
                    depth,
                ],
                {**env, "SENTRY_PROJECT": "api"},
                repo,
            )
            held = len(store.release(ORG, "bench-cli")["commits"])  # type: ignore[index]
            print(f"sentry-cli releases set-commits --local: {theirs:.2f}s ({held} commits held)")
            print(f"ratio (sentry-cli / ours): {theirs / ours:.2f}")
            mine = store.release(ORG, "bench-ours")["commits"]  # type: ignore[index]
            cli = store.release(ORG, "bench-cli")["commits"]  # type: ignore[index]
            same = [(c["id"], c["patch_set"]) for c in mine] == [
                (c["id"], c["patch_set"]) for c in cli
            ]
            print(f"same ids and patch sets as sentry-cli: {same}")
        else:
            print("sentry-cli not found: pip install sentry-cli==3.8.2 for the comparison")
    if opts.keep is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
