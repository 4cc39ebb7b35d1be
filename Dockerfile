# The action's image: slim Python, git, the package with pinned dependencies. Built by the
# runner for `uses: owner/sentry-release@vX`, or prebuilt (release-image.yml) for
# `uses: docker://ghcr.io/OWNER/sentry-release:vX`.
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    GIT_PYTHON_REFRESH=quiet

# git is all the system needs; the base image's Debian release picks its version.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first: this layer stays cached while only the code changes.
COPY requirements-action.txt /app/
RUN pip install --no-cache-dir -r /app/requirements-action.txt

COPY pyproject.toml README.md /app/
COPY src /app/src
RUN pip install --no-cache-dir --no-deps /app \
    && rm -rf /app/src /app/build /root/.cache
COPY entrypoint.py /app/entrypoint.py

ENTRYPOINT ["python", "/app/entrypoint.py"]
