#!/usr/bin/env bash
# Runs berth on the shipped examples against the local Docker engine: builds
# berth and the example image offline, checks that every stack loads in
# every environment, puts the stacks in a local Git repository and runs
# `berth run` on it for one environment (production, or BERTH_ENV) until
# every stack is in sync, then shows that a plan has nothing to do. Running
# it again changes nothing.
#
#   ./examples/demo.sh          deploy (again)
#   ./examples/demo.sh down     remove the stacks' containers and networks;
#                               named volumes (status_data) are kept
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
env="${BERTH_ENV:-production}"
stacks=(examples/stacks/*/)

if [ "${1:-}" = down ]; then
	for dir in "${stacks[@]}"; do
		project=$(basename "$dir")
		echo "== remove the containers and networks of $project"
		ids=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
		[ -z "$ids" ] || docker rm -f $ids >/dev/null
		nets=$(docker network ls -q --filter "label=com.docker.compose.project=$project")
		[ -z "$nets" ] || docker network rm $nets >/dev/null
	done
	echo "== done; named volumes are kept: docker volume ls --filter label=com.docker.compose.project"
	exit 0
fi

echo "== build berth and the example app image"
go build -o bin/berth ./cmd/berth
CGO_ENABLED=0 go build -trimpath -o examples/image/app ./e2e/testimage
trap 'rm -f examples/image/app' EXIT
for v in 1.0 1.1; do
	# The legacy builder needs no buildx and no registry; its output is
	# shown only when it fails.
	out=$(DOCKER_BUILDKIT=0 docker build -q --build-arg VERSION="$v" -t "berth-example/app:$v" examples/image 2>&1) ||
		{ echo "$out" >&2; exit 1; }
done

for dir in "${stacks[@]}"; do
	for e in staging production; do
		echo "== berth config --env $e $dir (loads)"
		bin/berth config --env "$e" "$dir" >/dev/null
	done
done

# The main job: `berth run` follows a Git repository holding these stacks.
# The demo makes that repository from examples/ in a scratch folder (a
# local path is a valid --repo), deploys it, and stops once every stack is
# in sync. On a real host the repo is your infra repo and berth keeps running.
work="${BERTH_DEMO_DIR:-$root/.demo}"
listen="${BERTH_DEMO_LISTEN:-127.0.0.1:19300}"
rm -rf "$work/repo"
mkdir -p "$work/repo"
cp -r examples/stacks "$work/repo/"
git -C "$work/repo" init -q -b main
git -C "$work/repo" add stacks
git -C "$work/repo" -c user.name=demo -c user.email=demo@example.com -c commit.gpgsign=false commit -q -m "shop and status"
echo "== berth run --repo $work/repo --env $env (until every stack is in sync)"
bin/berth run --repo "$work/repo" --env "$env" --host demo --data-dir "$work/data" \
	--listen "$listen" --poll 2s >"$work/berth.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f examples/image/app' EXIT
want=${#stacks[@]}
for _ in $(seq 1 120); do
	n=$(bin/berth status --data-dir "$work/data" 2>/dev/null | grep -c ' in sync ' || true)
	[ "$n" -ge "$want" ] && break
	if ! kill -0 $pid 2>/dev/null; then
		cat "$work/berth.log" >&2
		echo "berth run exited" >&2
		exit 1
	fi
	sleep 1
done
cat "$work/berth.log"
bin/berth status --data-dir "$work/data"
[ "$(bin/berth status --data-dir "$work/data" | grep -c ' in sync ')" -ge "$want" ] ||
	{ echo "not every stack is in sync" >&2; exit 1; }
kill -TERM $pid
wait $pid
for dir in "${stacks[@]}"; do
	echo "== berth plan --env $env $dir (what runs equals the files)"
	bin/berth plan --env "$env" "$dir"
done
echo "== done"
for dir in "${stacks[@]}"; do
	docker ps --filter "label=com.docker.compose.project=$(basename "$dir")" --format '{{.Names}}\t{{.Image}}\t{{.Status}}\t{{.Ports}}'
done
echo "== remove them with: $0 down"
