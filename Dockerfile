# The image of `kubectl deploywatch serve` for deploy/. Build it with
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ) \
#     -t ghcr.io/deploywatch/kubectl-deploywatch:v0.1.0 .
# (TZ=UTC for DATE). The binary is built as `make dist` builds it: static,
# -trimpath, version stamped.

# The builder runs on the build machine and cross-compiles for the target.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=v0.0.0-dev COMMIT=unknown DATE=unknown
RUN pkg=github.com/deploywatch/kubectl-deploywatch/pkg/version && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X $pkg.Version=$VERSION -X $pkg.Commit=$COMMIT -X $pkg.Date=$DATE" \
      -o /out/kubectl-deploywatch ./cmd/kubectl-deploywatch

# No shell, no package manager, CA certificates and tzdata only; runs as
# uid 65532 (nonroot).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kubectl-deploywatch /kubectl-deploywatch
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/kubectl-deploywatch"]
CMD ["serve", "--address=0.0.0.0:8080"]
