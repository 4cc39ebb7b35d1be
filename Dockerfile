# The action's image. Published by .github/workflows/release.yml as
# ghcr.io/sentry-release/sentry-release:<version>, which action.yml runs on Linux runners; a fork
# builds it in every job through from-source/action.yml (see README, "Forks").
#
# Two stages: the builder installs the hash-pinned dependencies and the package under /install
# (laid out as the final image's /); the final image gets git (without perl, docs or the git
# programs the action never runs) and a copy of /install, and nothing of the build.

FROM python:3.12-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
COPY requirements-action.txt /build/
RUN pip install --root /install --no-compile --no-deps --require-hashes --only-binary :all: \
        -r /build/requirements-action.txt
COPY pyproject.toml README.md LICENSE /build/
COPY src /build/src
# Bytecode compiled here, for the paths it will have, and never checked against the sources:
# the container starts without compiling or writing anything (start time is measured).
RUN pip install --root /install --no-compile --no-deps /build \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash -s /install -p / /install

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GIT_PYTHON_REFRESH=quiet
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# git is all the system needs. Not unpacked at all (dpkg path-exclude): documentation, man
# pages, translations, gitweb, git's perl modules and the git servers and transports the action
# never runs (it reads the checkout and fetches over https). Debian's git depends on perl only
# for commands the action never runs (svn, send-email, perl hooks): perl, its modules and
# git-man are purged; perl-base, which dpkg needs, is part of the base image and stays.
# hadolint ignore=DL3008
RUN printf 'path-exclude=%s\n' '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' \
        '/usr/share/locale/*' '/usr/share/gitweb/*' '/usr/share/perl5/*' '/usr/share/git-gui/*' \
        '/usr/lib/git-core/git-daemon' '/usr/lib/git-core/git-http-backend' \
        '/usr/lib/git-core/git-http-fetch' '/usr/lib/git-core/git-http-push' \
        '/usr/lib/git-core/git-imap-send' '/usr/lib/git-core/git-shell' \
        '/usr/lib/git-core/scalar' '/usr/bin/scalar' '/usr/bin/git-shell' \
        >/etc/dpkg/dpkg.cfg.d/sentry-release-slim \
    && apt-get update \
    && apt-get install -y --no-install-recommends git \
    && dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' \
        | awk '$1 == "ii" && $2 ~ /^(perl|perl-modules-.*|libperl5.*|liberror-perl|git-man)$/ {print $2}' \
        | xargs -r dpkg --purge --force-depends \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
        /var/log/apt /var/log/dpkg.log

COPY --from=builder /install /
COPY entrypoint.py /app/entrypoint.py

ENTRYPOINT ["python", "/app/entrypoint.py"]
