# berth as a container image: a static binary on scratch. Run it with the
# engine's socket mounted: docker run -v /var/run/docker.sock:/var/run/docker.sock berth plan /stacks/web
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /berth ./cmd/berth

FROM scratch
COPY --from=build /berth /berth
ENTRYPOINT ["/berth"]
