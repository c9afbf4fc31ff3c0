# The application image of docker-compose.yml: the project installed into a slim Python.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY canary_stream ./canary_stream
COPY agents ./agents
COPY tables ./tables
COPY schemas ./schemas
RUN pip install --no-cache-dir . && mkdir -p /var/lib/canary-stream
ENTRYPOINT []
