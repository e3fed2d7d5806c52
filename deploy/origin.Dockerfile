# The origin (Axum) and the browser app it serves, built from the workspace. Build context: the
# repository root. The tools are the ones toolchain/src/lib.rs pins (e2e/tests/compose.rs checks
# that these versions agree with it and with Cargo.lock).

# binaryen's wasm-opt as the npm registry ships it (a Node build), for trunk's release build.
FROM node:20.20.2-bookworm-slim AS wasm-opt
RUN npm install --no-audit --no-fund --prefix /tools binaryen@123.0.0

FROM rust:1.95.0-bookworm AS build
ARG TRUNK_VERSION=0.21.14
ARG WASM_BINDGEN_VERSION=0.2.130
RUN rustup target add wasm32-unknown-unknown \
    && cargo install trunk --version "$TRUNK_VERSION" --locked \
    && cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
COPY --from=wasm-opt /usr/local/bin/node /usr/local/bin/node
COPY --from=wasm-opt /tools /tools
ENV PATH=/tools/node_modules/.bin:$PATH
WORKDIR /src
COPY . .
RUN cargo build --release -p origin --bin origin
# --offline: trunk uses the wasm-bindgen and wasm-opt above, never downloads its own.
RUN cd frontend && trunk build --release --offline

FROM debian:12.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home chat
COPY --from=build /src/target/release/origin /usr/local/bin/origin
COPY --from=build /src/frontend/dist /app/frontend/dist
USER chat
EXPOSE 8080
CMD ["origin"]
