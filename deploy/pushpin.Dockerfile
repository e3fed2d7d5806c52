# Pushpin, the open-source core of Fastly Fanout, as Debian 12 ships it: 1.36.0, the version the
# e2e harness runs and deploy/pushpin/pushpin.conf is written for (e2e/tests/compose.rs checks
# that config against the harness's). Build context: the repository root.
FROM debian:12.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends pushpin=1.36.0-2 curl \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /pushpin/run /pushpin/log
COPY deploy/pushpin/pushpin.conf /pushpin/pushpin.conf.in
COPY deploy/pushpin/routes /pushpin/routes
COPY deploy/pushpin/entrypoint.sh /pushpin/entrypoint.sh
# 7677: clients and the edge's handoffs; 5561: the publish API (the origin's GRIP_URL).
EXPOSE 7677 5561
ENTRYPOINT ["/pushpin/entrypoint.sh"]
