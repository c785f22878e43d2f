#!/usr/bin/env bash
# Runs berth on the shipped examples against the local Docker engine: builds
# berth and the example image offline, applies every stack for the
# production environment, then shows that a second plan has nothing to do.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
env="${BERTH_ENV:-production}"

echo "== build berth and the example app image"
go build -o bin/berth ./cmd/berth
CGO_ENABLED=0 go build -trimpath -o examples/image/app ./e2e/testimage
for v in 1.0 1.1; do
	DOCKER_BUILDKIT=0 docker build -q --build-arg VERSION="$v" -t "berth-example/app:$v" examples/image >/dev/null
done
rm -f examples/image/app

for dir in examples/stacks/*/; do
	echo "== berth plan --env $env $dir"
	bin/berth plan --env "$env" "$dir" || [ $? -eq 1 ]
	echo "== berth apply --env $env $dir"
	bin/berth apply --env "$env" "$dir"
	echo "== berth plan --env $env $dir (after apply: in sync)"
	bin/berth plan --env "$env" "$dir"
done
echo "== done: docker ps --filter label=dev.berth.managed=true"
docker ps --filter label=dev.berth.managed=true --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}'
