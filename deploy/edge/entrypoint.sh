#!/bin/sh
# Viceroy 0.22 sends a Fanout handoff to 127.0.0.1:<--local-pushpin-proxy-port> (the address is
# fixed in viceroy-lib's execute.rs), so Pushpin's container is forwarded to that port here; then
# the command (docker-compose.yml's `command`: viceroy serve ...) runs.
set -eu
: "${SESSION_SECRET:?set SESSION_SECRET to the origin's: the edge checks session tokens with it}"
: "${PUSHPIN_FORWARD:?set PUSHPIN_FORWARD to Pushpin's client address, e.g. pushpin:7677}"
: "${PUSHPIN_LOCAL_PORT:?set PUSHPIN_LOCAL_PORT to the port --local-pushpin-proxy-port names}"
socat "TCP-LISTEN:${PUSHPIN_LOCAL_PORT},bind=127.0.0.1,fork,reuseaddr" "TCP:${PUSHPIN_FORWARD}" &
exec "$@"
