# The konsumerator image: a static binary on a distroless base, running as a non-root user.
#
#   make docker-build IMG=registry.example.com/konsumerator:v1.2.3
#
# Build stage: the same command as `make build` (CGO_ENABLED=0, -trimpath, the build tags of internal/gobuild,
# the version injected with -X), so that the binary in the image is the one CI tested. TARGETOS/TARGETARCH come
# from BuildKit (docker buildx build --platform ...); with the classic builder they are empty and Go builds for
# the builder's platform.
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -tags grpcnotrace -ldflags "-s -w -X github.com/konsumerator/konsumerator/cmd/konsumerator/app.Version=${VERSION}" \
    -o /out/konsumerator ./cmd/konsumerator

# Runtime stage: no shell, no package manager, nothing but the binary and CA certificates (Prometheus over
# TLS). The nonroot user is uid/gid 65532, the same the manifests in config/manager run as.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /out/konsumerator /konsumerator
USER 65532:65532
ENTRYPOINT ["/konsumerator"]
CMD ["run"]
