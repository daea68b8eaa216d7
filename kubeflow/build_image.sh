#!/usr/bin/env bash
# `make image`: builds the image every Kubeflow step runs in (kubeflow/Dockerfile) with podman, on a machine
# without a Docker daemon or registry access.
#
# The base image is a Debian 13 (trixie) root file system made by debootstrap from the Debian archive and
# imported into podman; the Dockerfile then installs Debian's Python 3.13 and this package with its pinned
# stack (kubeflow/constraints-py313.txt) from PyPI. Missing tools (podman, debootstrap, runc) are installed
# with apt-get when run as root.
#
# Settings (environment): IMAGE (default localhost/bert-tfx:0.1.0), BASE_IMAGE (localhost/bert-tfx-base:trixie,
# made once and reused), DEBIAN_MIRROR, BUILD_CA_BUNDLE (a CA bundle for PyPI where TLS is intercepted;
# default: the system's, when present), TENSORFLOW_EXTRAS ('[and-cuda]' for a GPU image).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/bert-tfx:0.1.0}
BASE_IMAGE=${BASE_IMAGE:-localhost/bert-tfx-base:trixie}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BUILD_CA_BUNDLE=${BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
TENSORFLOW_EXTRAS=${TENSORFLOW_EXTRAS:-}
ROOTFS=build/image/rootfs-trixie

say() { printf '[image] %s\n' "$*"; }
die() { printf '[image] ERROR: %s\n' "$*" >&2; exit 1; }

# podman needs runc here (crun is not installed) and ulimits the sandbox allows (its defaults are refused).
source kubeflow/podman_settings.sh
source scripts/debian_packages.sh

install_tools() {
  local missing
  mapfile -t missing < <(missing_debian_packages podman:podman debootstrap:debootstrap runc:runc)
  [ ${#missing[@]} -eq 0 ] && return 0
  can_apt_install || die "missing ${missing[*]}; install them (Debian: apt-get install podman debootstrap runc)"
  say "installing Debian packages: ${missing[*]}"
  apt_install "${missing[@]}"
}

build_base() {
  if podman image exists "$BASE_IMAGE"; then
    say "base image $BASE_IMAGE exists; reusing it"
    return 0
  fi
  say "debootstrap --variant=minbase trixie from $DEBIAN_MIRROR"
  rm -rf "$ROOTFS"
  mkdir -p "$(dirname "$ROOTFS")"
  debootstrap --variant=minbase trixie "$ROOTFS" "$DEBIAN_MIRROR" >build/image/debootstrap.log 2>&1 \
    || die "debootstrap failed; see build/image/debootstrap.log"
  say "importing the root file system ($(du -sh "$ROOTFS" | cut -f1)) as $BASE_IMAGE"
  tar -C "$ROOTFS" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null 2>&1
  rm -rf "$ROOTFS"
}

build_image() {
  local secret=()
  [ -s "$BUILD_CA_BUNDLE" ] && secret=(--secret "id=build_ca,src=$BUILD_CA_BUNDLE")
  say "building $IMAGE from kubeflow/Dockerfile (pip install of the pinned stack: a few minutes)"
  podman "${PODMAN_GLOBAL_FLAGS[@]}" build "${PODMAN_RUN_FLAGS[@]}" --network host "${secret[@]}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "TENSORFLOW_EXTRAS=$TENSORFLOW_EXTRAS" \
    -f kubeflow/Dockerfile -t "$IMAGE" . >build/image/build.log 2>&1 \
    || { tail -30 build/image/build.log >&2; die "podman build failed; see build/image/build.log"; }
}

main() {
  local start=$SECONDS
  install_tools
  mkdir -p build/image
  build_base
  build_image
  say "built $IMAGE in $((SECONDS - start)) s: $(podman image inspect --format '{{.Size}}' "$IMAGE" \
    | awk '{printf "%.2f GB", $1 / 1e9}')"
  podman "${PODMAN_GLOBAL_FLAGS[@]}" run --rm "${PODMAN_RUN_FLAGS[@]}" --network none "$IMAGE" \
    | sed 's/^/[image] /'
}

main "$@"
