#!/bin/sh
# Fills Pushpin's signing key in from GRIP_KEY (never baked into the image), then runs Pushpin.
set -eu
: "${GRIP_KEY:?set GRIP_KEY to a random secret (openssl rand -hex 32): Pushpin signs Grip-Sig with it and the origin checks it}"
awk -v key="$GRIP_KEY" '/^sig_key=/ { print "sig_key=" key; next } { print }' \
    /pushpin/pushpin.conf.in > /pushpin/run/pushpin.conf
exec pushpin --config=/pushpin/run/pushpin.conf --merge-output
