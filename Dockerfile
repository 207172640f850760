# Agora's image: the static binary `make static` builds, on a distroless base, as a non-root user.
#   docker build -t agora --build-arg VERSION=$(git describe --tags --always --dirty) --build-arg REVISION=$(git rev-parse HEAD) .
#   docker run -p 8080:8080 -e AGORA_JWT_SECRET=$(openssl rand -hex 32) agora   # embedded SQLite in /data
# compose.yaml runs two replicas on PostgreSQL and Redis.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# What `agora version` and the start-up log show (the build context has no .git to read them from).
ARG VERSION=dev
ARG REVISION=unknown
RUN make static VERSION="$VERSION" REVISION="$REVISION" && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.version="$VERSION" org.opencontainers.image.revision="$REVISION"
COPY --from=build /src/agora /agora
# SQLite's directory when DATABASE_URL is unset; mount a volume here to keep its data.
COPY --from=build --chown=nonroot:nonroot /out/data /data
WORKDIR /data
ENV AGORA_ENV=production PORT=8080
EXPOSE 8080
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["/agora", "healthcheck"]
ENTRYPOINT ["/agora"]
CMD ["serve"]
