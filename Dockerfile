# The billing service image: one image, run as `billing api` or `billing worker`.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md alembic.ini worker.py ./
COPY api ./api
COPY activities ./activities
COPY billing ./billing
COPY migrations ./migrations
COPY models ./models
COPY stripe_emulator ./stripe_emulator
COPY workflows ./workflows
RUN pip install --no-cache-dir .
USER nobody
CMD ["billing", "api", "--host", "0.0.0.0", "--port", "8000"]
