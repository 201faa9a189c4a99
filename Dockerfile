# The action's published image: the static multiarch-action binary and a
# pinned buildx binary, FROM scratch. The release workflow builds the binary
# natively on each platform's runner and hands it in as the
# `prebuilt-binary` build context (`--build-arg BINARY=prebuilt`); without
# it, the `source` stage compiles it here.
ARG RUST_VERSION=1.95
ARG BUILDX_VERSION=0.36.1
ARG BINARY=source

FROM docker/buildx-bin:${BUILDX_VERSION} AS buildx

FROM rust:${RUST_VERSION}-bookworm AS source
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN target="$(uname -m)-unknown-linux-musl" \
 && rustup target add "$target" \
 && cargo build --release --locked --target "$target" \
 && mkdir -p /out/tmp /out/bin && chmod 1777 /out/tmp \
 && cp "target/$target/release/multiarch-action" /out/bin/multiarch-action \
 && ln -s multiarch-action /out/bin/multiarch-action-post \
 && cp /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt

# A directory with `bin/multiarch-action` (and `bin/multiarch-action-post`,
# a link to it: the post step's entrypoint), `ca-certificates.crt` and an
# empty `tmp` (mode 1777), as scripts/release makes it.
FROM scratch AS prebuilt
COPY --from=prebuilt-binary / /out/

FROM ${BINARY} AS binary

FROM scratch
COPY --from=binary /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=binary /out/tmp /tmp
COPY --from=buildx /buildx /usr/bin/buildx
COPY --from=binary /out/bin/ /usr/bin/
ENV PATH=/usr/bin
ENTRYPOINT ["/usr/bin/multiarch-action"]
