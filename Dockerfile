# Tocsin in a container: the package installed, run as a non-root user, data on a volume.
#   docker build -t tocsin .
#   docker run -v tocsin-data:/data -v ./tocsin.toml:/etc/tocsin/tocsin.toml:ro \
#     -e TOCSIN_TELEGRAM_TOKEN -e TOCSIN_MATRIX_ACCESS_TOKEN -e TOCSIN_MATRIX_STORE_KEY tocsin
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY relays ./relays
COPY feeds ./feeds
COPY alerts ./alerts
COPY storage ./storage
COPY config ./config
RUN pip install . && useradd --create-home --uid 10001 tocsin \
    && mkdir -p /data && chown tocsin:tocsin /data

USER tocsin
WORKDIR /data
VOLUME ["/data"]
# The SQLite default and the Matrix crypto store live under /data/tocsin-data; mount the
# deployment file here.
ENV TOCSIN_CONFIG=/etc/tocsin/tocsin.toml
CMD ["tocsin", "run"]
