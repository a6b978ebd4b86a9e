# The billing service image: one image, run as `billing api`, `billing worker`,
# `billing migrate` or `billing codec-server`. Built from the hash-pinned lock
# (requirements/runtime.txt): no Temporal dev server, no embedded PostgreSQL, no Stripe
# emulator, no tests, no build tools in the final stage; runs as an unprivileged user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/billing
WORKDIR /src
# Dependencies first (a layer that changes only with the lock), each checked by its hash.
COPY requirements/runtime.txt requirements/runtime.txt
RUN /opt/billing/bin/pip install --require-hashes -r requirements/runtime.txt
# The service's own packages only: stripe_emulator, tests and bench stay out of the image.
COPY pyproject.toml README.md alembic.ini worker.py ./
COPY activities ./activities
COPY api ./api
COPY core ./core
COPY ledger ./ledger
COPY migrations ./migrations
COPY models ./models
COPY ops ./ops
COPY rules ./rules
COPY workflows ./workflows
RUN /opt/billing/bin/pip install --no-deps --no-build-isolation . \
    && /opt/billing/bin/pip uninstall --yes pip setuptools wheel

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/billing/bin:$PATH \
    BILLING_ENV=production
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin billing
COPY --from=build /opt/billing /opt/billing
# alembic.ini beside the installed packages, where `billing migrate` looks for it.
COPY --from=build /src/alembic.ini /opt/billing/lib/python3.11/site-packages/alembic.ini
USER 10001:10001
EXPOSE 8000
CMD ["billing", "api", "--host", "0.0.0.0", "--port", "8000"]
