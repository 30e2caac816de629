# The Guanchao worker image (deploy/compose.yaml and deploy/k8s/ use it).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor monitor
COPY lexicons lexicons
COPY alerts alerts
RUN pip install --no-cache-dir . && useradd --system guanchao
USER guanchao
EXPOSE 6066
# Broker, config and secrets come from the environment: GUANCHAO_BROKER, GUANCHAO_CONFIG,
# GUANCHAO_API_TOKEN and the variables the config's sinks name.
ENTRYPOINT ["guanchao", "worker", "--loglevel", "info"]
