# The action's image. Published by .github/workflows/release.yml as
# ghcr.io/sentry-release/sentry-release:<version>, which action.yml runs on Linux runners; a fork
# builds it in every job through from-source/action.yml (see README, "Forks").
#
# Two stages: the builder installs the hash-pinned dependencies and the package into /install;
# the final image gets git (without perl) and a copy of /install, and nothing of the build.

FROM python:3.12-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
COPY requirements-action.txt /build/
RUN pip install --prefix=/install --require-hashes --only-binary :all: --no-deps \
        -r /build/requirements-action.txt
COPY pyproject.toml README.md LICENSE /build/
COPY src /build/src
# Compiled here so the container never writes bytecode at start (start time is measured).
RUN pip install --prefix=/install --no-deps --no-compile /build \
    && python -m compileall -q -j 0 /install

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GIT_PYTHON_REFRESH=quiet
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# git is all the system needs. Debian's git depends on perl only for commands the action never
# runs (svn, send-email, the perl hooks); dropping perl, its modules and git's man pages saves
# ~50 MB. perl-base, which dpkg needs, is part of the base image and stays.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' \
        | awk '$1 == "ii" && $2 ~ /^(perl|perl-modules-.*|libperl5.*|liberror-perl|git-man)$/ {print $2}' \
        | xargs -r dpkg --purge --force-depends \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
        /var/log/apt /var/log/dpkg.log

COPY --from=builder /install /usr/local
COPY entrypoint.py /app/entrypoint.py

ENTRYPOINT ["python", "/app/entrypoint.py"]
