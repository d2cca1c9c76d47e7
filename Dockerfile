# keygate's image for people who build with Docker:
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) -t ghcr.io/keygate/keygate:dev .
# `make image` builds the same image without a daemon (deploy/image); a test
# there (TestDockerfileMatchesBuilder) keeps the two in step: the final
# stage's USER, EXPOSE, VOLUME, WORKDIR, ENTRYPOINT, CMD, ENV, LABELs and
# files must be what the Go builder writes.
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${REVISION}" \
      -o /out/keygate ./cmd/keygate
RUN mkdir -p /rootfs/data /rootfs/tmp && chmod 0700 /rootfs/data && chmod 1777 /rootfs/tmp

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY deploy/image/rootfs/etc/passwd /etc/passwd
COPY deploy/image/rootfs/etc/group /etc/group
COPY --from=build /rootfs/tmp /tmp
COPY --from=build --chown=65532:65532 /rootfs/data /data
COPY --from=build /out/keygate /usr/local/bin/keygate
ENV PATH=/usr/local/bin \
    KEYGATE_HTTP_ADDR=:8080 \
    KEYGATE_DB=sqlite:/data/keygate.db
LABEL org.opencontainers.image.title="keygate" \
      org.opencontainers.image.description="Keycloak-compatible identity gateway: OpenID Connect on Keycloak's URL layout from one static binary" \
      org.opencontainers.image.source="https://github.com/keygate/keygate" \
      org.opencontainers.image.url="https://github.com/keygate/keygate" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080/tcp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/keygate"]
CMD ["serve"]
