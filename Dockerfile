# The ingestgen runner: ingestgen, Meltano and the Singer plugins preinstalled, the repository at
# /app, the asset specs at /specs (mount your own read-only; nothing writes there), running as the
# unprivileged user "runner" (uid 10001).
#
#   podman run --rm -v ./specs:/specs:ro IMAGE oneshot configs/acme/deals_daily.yaml
#   podman run --rm --init -p 3000:3000 IMAGE orchestrated
#
# The base is Debian bookworm with python3, python3-venv and ca-certificates. Without an image
# registry, docker/build-base makes it locally with debootstrap; build with --pull=never.
FROM localhost/ingestgen-base:bookworm

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# PIP_CERT and UV_NATIVE_TLS: pip and uv trust the system store, not their bundled one.
# UV_COMPILE_BYTECODE: uv (and so `meltano install`) writes the bytecode at build time; with
# PYTHONDONTWRITEBYTECODE and no bytecode every run would compile Meltano and the plugins again.
ENV LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    UV_NATIVE_TLS=1 \
    UV_NO_CACHE=1 \
    VIRTUAL_ENV=/opt/ingestgen \
    PATH=/opt/ingestgen/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    INGESTGEN_ROOT=/app \
    DAGSTER_HOME=/var/lib/ingestgen/dagster \
    MELTANO_CLI_DISABLE_VERSION_CHECK=true \
    MELTANO_SEND_ANONYMOUS_USAGE_STATS=false

RUN groupadd --system --gid 10001 runner \
    && useradd --system --uid 10001 --gid runner --create-home --home-dir /home/runner \
        --shell /usr/sbin/nologin runner \
    && install -d -o runner -g runner /app /opt/ingestgen /var/lib/ingestgen/dagster

# The specs belong to root: the runner can read them and never write them, mounted or not.
COPY specs /specs

USER 10001:10001
WORKDIR /app

# ingestgen (with Dagster for orchestrated mode, and the launchers and PostgreSQL storage a run in
# a container of this image needs) and the plugins: this layer is rebuilt only when their code
# changes.
COPY --chown=10001:10001 pyproject.toml README.md ./
COPY --chown=10001:10001 generator generator
COPY --chown=10001:10001 plugins plugins
RUN python3 -m venv /opt/ingestgen \
    && pip install --no-cache-dir uv==0.13.8 \
    && uv pip install ./plugins/plugin-errors ./plugins/target-iceberg ./plugins/tap-gdrive-csv \
        ./plugins/tap-airbyte-bridge ./plugins/mapper-contract "./[containers]"

# The repository, then each rendered project's Meltano plugins, installed now so that runs
# start without network access. The build fails if projects/ drifted from configs/.
COPY --chown=10001:10001 registry registry
COPY --chown=10001:10001 templates templates
COPY --chown=10001:10001 configs configs
COPY --chown=10001:10001 projects projects
RUN ln -s /specs /app/specs \
    && ingestgen render --check \
    && for project in projects/*/meltano.yml; do \
        meltano --cwd "${project%/meltano.yml}" install; \
    done \
    && python3 -m compileall -q plugins

# Last, so that changing it rebuilds nothing else.
COPY docker/entrypoint /usr/local/bin/ingestgen-entrypoint

EXPOSE 3000
VOLUME ["/var/lib/ingestgen/dagster"]
ENTRYPOINT ["/usr/local/bin/ingestgen-entrypoint"]
