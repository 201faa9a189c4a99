# The action's published image: the static multiarch-action binary and a
# pinned buildx binary, FROM scratch. The release workflow builds it for
# linux/amd64 and linux/arm64 with this action itself.
ARG RUST_VERSION=1.95
ARG BUILDX_VERSION=0.19.3

FROM docker/buildx-bin:${BUILDX_VERSION} AS buildx

FROM rust:${RUST_VERSION}-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN target="$(uname -m)-unknown-linux-musl" \
 && rustup target add "$target" \
 && cargo build --release --locked --target "$target" \
 && cp "target/$target/release/multiarch-action" /multiarch-action \
 && mkdir -m 1777 /empty-tmp

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /empty-tmp /tmp
COPY --from=buildx /buildx /usr/bin/buildx
COPY --from=build /multiarch-action /usr/bin/multiarch-action
ENV PATH=/usr/bin
ENTRYPOINT ["/usr/bin/multiarch-action"]
