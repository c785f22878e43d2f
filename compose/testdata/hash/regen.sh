#!/usr/bin/env bash
# regen.sh regenerates the golden config hashes of the hash corpus with the
# real docker compose CLI. berth's TestServiceHash compares its own hashes
# with these files.
#
# Needs:
#   COMPOSE_CLI  path to a docker compose v2.40.3 binary, run standalone
#                (build it: cd $(go env GOMODCACHE)/github.com/docker/compose/v2@v2.40.3
#                 && go build -o /opt/berth-tools/docker-compose ./cmd)
#   a Docker engine (DOCKER_HOST, default the local socket); API 1.41 is enough.
#   Nothing is pulled: one tiny FROM-scratch image is built and tagged with
#   every image name the corpus uses.
#
# Usage: COMPOSE_CLI=/opt/berth-tools/docker-compose ./regen.sh [NN-folder ...]
#
# For each folder NN-name it writes:
#   config-hash.golden  output of `compose config --hash '*'`
#   create-hash.golden  "SERVICE HASH" from the com.docker.compose.config-hash
#                       label of the containers `compose create` made, sorted
#                       (skipped when the folder has a `config-only` file,
#                       which says why the engine cannot create that stack)
#   create-ids.golden   "SERVICE CONTAINER_ID" when a service refers to
#                       another one (network_mode/ipc/pid service:x,
#                       volumes_from): compose hashes the reference after
#                       replacing it with that container's ID.
#
# Each folder is copied to $CORPUS_ROOT/NN-name and loaded from there:
# bind-mount sources and other resolved paths are absolute in the hash, so
# the CLI and berth's test must load the same absolute path. Project names
# are berthhashNN. The CLI runs with a clean environment so no host variable
# takes part in interpolation. Everything created is removed at the end:
# the projects (down -v), the external network, the image tags.
set -euo pipefail

: "${COMPOSE_CLI:?set COMPOSE_CLI to a docker compose v2.40.3 binary}"
DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
CORPUS_ROOT=/tmp/berth-hash-corpus # keep equal to corpusRoot in hash_test.go
EXTERNAL_NETWORK=berthhash_external
BASE_IMAGE=berthhash/base:regen

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d /tmp/berthhash-regen.XXXXXX)"
tags=()
projects=()

compose() {
	env -i PATH=/usr/bin:/bin HOME="${HOME:-/root}" DOCKER_HOST="$DOCKER_HOST" "$COMPOSE_CLI" "$@"
}

cleanup() {
	for p in "${projects[@]}"; do
		docker ps -aq --filter "label=com.docker.compose.project=$p" | xargs -r docker rm -f >/dev/null
		docker volume ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker volume rm >/dev/null
		docker network ls -q --filter "label=com.docker.compose.project=$p" | xargs -r docker network rm >/dev/null
	done
	docker network rm "$EXTERNAL_NETWORK" >/dev/null 2>&1 || true
	for t in "${tags[@]}"; do
		docker rmi "$t" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

# args_for DIR prints the -p/-f/--env-file arguments for a corpus copy. An
# overlay compose.production.yaml means the case is loaded for the
# "production" environment: berth then reads .env and production.env.
args_for() {
	local dir="$1" nn
	nn="$(basename "$dir")"
	nn="${nn%%-*}"
	printf '%s\n' -p "berthhash$nn" -f "$dir/compose.yaml"
	if [[ -f "$dir/compose.production.yaml" ]]; then
		printf '%s\n' -f "$dir/compose.production.yaml"
		if [[ -f "$dir/production.env" ]]; then
			[[ -f "$dir/.env" ]] && printf '%s\n' --env-file "$dir/.env"
			printf '%s\n' --env-file "$dir/production.env"
		fi
	fi
}

build_base_image() {
	printf 'berthhash\n' >"$work/marker"
	printf 'FROM scratch\nCOPY marker /marker\nLABEL berthhash=1\nCMD ["/marker"]\n' >"$work/Dockerfile"
	DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE" "$work" >/dev/null
	tags+=("$BASE_IMAGE")
}

# tag_images DIR tags the base image with every image DIR's project uses.
tag_images() {
	local -a args
	mapfile -t args < <(args_for "$1")
	local img
	for img in $(cd "$1" && compose "${args[@]}" config --images); do
		if ! docker image inspect "$img" >/dev/null 2>&1; then
			docker tag "$BASE_IMAGE" "$img"
			tags+=("$img")
		fi
	done
}

# create_goldens SRC DIR creates DIR's containers and records their hashes.
create_goldens() {
	local src="$1" dir="$2" nn project
	local -a args
	mapfile -t args < <(args_for "$dir")
	project="${args[1]}"
	projects+=("$project")
	(cd "$dir" && compose "${args[@]}" create --pull never --no-build >/dev/null 2>"$work/create.log") || {
		cat "$work/create.log" >&2
		return 1
	}
	docker ps -a --filter "label=com.docker.compose.project=$project" \
		--format '{{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.config-hash"}}' |
		sort -u >"$src/create-hash.golden"
	if [[ "$(cut -d' ' -f1 "$src/create-hash.golden" | uniq -d)" != "" ]]; then
		echo "$src: replicas of one service have different hashes" >&2
		return 1
	fi
	rm -f "$src/create-ids.golden"
	if grep -Eq '(network_mode|ipc|pid): *"?service:|volumes_from' "$dir"/compose*.yaml; then
		# compose picks the first container of a service by name.
		docker ps -a --filter "label=com.docker.compose.project=$project" \
			--format '{{.Label "com.docker.compose.service"}} {{.Names}} {{.ID}}' |
			sort -k1,1 -k2,2 | sort -u -k1,1 -s |
			while read -r svc _ id; do
				echo "$svc $(docker inspect -f '{{.Id}}' "$id")"
			done >"$src/create-ids.golden"
	fi
	(cd "$dir" && compose "${args[@]}" down -v --remove-orphans >/dev/null 2>&1)
}

main() {
	local -a cases=("$@")
	if [[ ${#cases[@]} -eq 0 ]]; then
		mapfile -t cases < <(cd "$here" && ls -d [0-9][0-9]-*/ | tr -d /)
	fi
	build_base_image
	docker network create --label berthhash=1 "$EXTERNAL_NETWORK" >/dev/null
	mkdir -p "$CORPUS_ROOT"
	local c src dir
	local -a args
	for c in "${cases[@]}"; do
		src="$here/$c"
		dir="$CORPUS_ROOT/$c"
		rm -rf "$dir"
		cp -a "$src" "$dir"
		rm -f "$dir"/*.golden
		mapfile -t args < <(args_for "$dir")
		(cd "$dir" && compose "${args[@]}" config --hash '*') >"$src/config-hash.golden"
		if [[ -f "$src/config-only" ]]; then
			rm -f "$src/create-hash.golden" "$src/create-ids.golden"
		else
			tag_images "$dir"
			create_goldens "$src" "$dir"
		fi
		echo "$c: $(wc -l <"$src/config-hash.golden") services"
	done
}

main "$@"
