# The edge's wasm in Viceroy, Fastly's local Compute runtime, as `cargo xtask dev` runs it. Build
# context: the repository root. Viceroy's version is the one toolchain/src/lib.rs pins.
FROM rust:1.95.0-bookworm AS build
ARG VICEROY_VERSION=0.22.0
RUN rustup target add wasm32-wasip1 \
    && cargo install viceroy --version "$VICEROY_VERSION" --locked
WORKDIR /src
COPY . .
RUN cargo build -p edge --profile edge --target wasm32-wasip1

FROM debian:12.11-slim
# socat: Viceroy hands Fanout handoffs to Pushpin on 127.0.0.1 only (see entrypoint.sh).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl socat \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home edge
COPY --from=build /usr/local/cargo/bin/viceroy /usr/local/bin/viceroy
COPY --from=build /src/target/wasm32-wasip1/edge/edge.wasm /app/edge.wasm
COPY deploy/edge/fastly.toml /app/fastly.toml
COPY deploy/edge/entrypoint.sh /app/entrypoint.sh
USER edge
EXPOSE 7676
ENTRYPOINT ["/app/entrypoint.sh"]
