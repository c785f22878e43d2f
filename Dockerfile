# berth as a container image: one static binary on scratch, with CA
# certificates, a passwd entry for the non-root user 65532 and the data
# directory /var/lib/berth owned by it.
#
# With a registry (pulls golang:1.26, or the image named by GO_IMAGE):
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t berth .
#
# Without one, the "host" target pulls nothing: it packs what the host built
# and staged under bin/rootfs (the CA bundle only if the host has one):
#
#   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(git describe --tags --always --dirty)" \
#     -o bin/rootfs/usr/local/bin/berth ./cmd/berth
#   mkdir -p bin/rootfs/etc/ssl/certs
#   printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/berth:/sbin/nologin\n' >bin/rootfs/etc/passwd
#   printf 'root:x:0:\nnonroot:x:65532:\n' >bin/rootfs/etc/group
#   cp /etc/ssl/certs/ca-certificates.crt bin/rootfs/etc/ssl/certs/
#   DOCKER_BUILDKIT=0 docker build --target host -t berth .
#
# Run it with the engine's socket, and the socket's group so that the
# non-root user may use it. Mount stack folders at the same path as on the
# host: the engine resolves their bind mounts on the host.
#
#   docker run --rm --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /var/run/docker.sock:/var/run/docker.sock -v "$PWD/stacks:$PWD/stacks:ro" \
#     berth plan "$PWD/stacks/web"

ARG GO_IMAGE=golang:1.26

# The legacy builder (DOCKER_BUILDKIT=0) runs every stage up to the target,
# so a plain `docker build .` runs these two as well, with nothing staged:
# they must not fail then. The WORKDIRs make the folders exist either way,
# and go.mod is only there so that the COPY has a source without bin/rootfs.
FROM scratch AS staged
WORKDIR /rootfs/etc
WORKDIR /rootfs/usr/local/bin
WORKDIR /rootfs/var/lib/berth
COPY go.mod bin/rootf[s] /rootfs/

# The host target and the final stage are the same from here on; keep them so.
FROM scratch AS host
COPY --from=staged /rootfs/etc/ /etc/
COPY --from=staged /rootfs/usr/local/bin/ /usr/local/bin/
COPY --from=staged --chown=65532:65532 /rootfs/var/lib/berth/ /var/lib/berth/
ENV PATH=/usr/local/bin
USER 65532:65532
WORKDIR /var/lib/berth
VOLUME /var/lib/berth
EXPOSE 9300
LABEL org.opencontainers.image.title=berth \
      org.opencontainers.image.source=https://github.com/berth-gitops/berth
ENTRYPOINT ["berth"]
CMD ["run"]

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /rootfs/usr/local/bin/berth ./cmd/berth
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/var/lib/berth \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/berth:/sbin/nologin\n' >/rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' >/rootfs/etc/group \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/

FROM scratch
COPY --from=build /rootfs/etc/ /etc/
COPY --from=build /rootfs/usr/local/bin/ /usr/local/bin/
COPY --from=build --chown=65532:65532 /rootfs/var/lib/berth/ /var/lib/berth/
ENV PATH=/usr/local/bin
USER 65532:65532
WORKDIR /var/lib/berth
VOLUME /var/lib/berth
EXPOSE 9300
LABEL org.opencontainers.image.title=berth \
      org.opencontainers.image.source=https://github.com/berth-gitops/berth
ENTRYPOINT ["berth"]
CMD ["run"]
