#!/usr/bin/env bash
# Engines the tests need that pip cannot install: a Docker engine with a local base image
# (no registry is reachable), HAProxy for Ray Serve's fast ingress, wrk for benchmarks.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
BASE_IMAGE="${WORKBENCH_TEST_BASE_IMAGE:-workbench-test-base:bookworm}"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v haproxy >/dev/null || need+=(haproxy)
command -v wrk >/dev/null || need+=(wrk)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
    echo "== apt: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    echo "== starting dockerd (vfs storage, no iptables, no bridge)"
    nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >/tmp/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -20 /tmp/dockerd.log; exit 1; }
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "== building base image $BASE_IMAGE with debootstrap"
    root="$(mktemp -d)"
    chmod 755 "$root"  # mktemp makes it 0700: the image's / would shut out non-root users
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip bookworm "$root" >/tmp/debootstrap.log 2>&1 \
        || { tail -20 /tmp/debootstrap.log; exit 1; }
    tar -C "$root" -c . | docker import -c 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$root"
fi
echo "== engines ready: $(docker version --format '{{.Server.Version}}'), base image $BASE_IMAGE"
