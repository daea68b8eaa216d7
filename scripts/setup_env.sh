#!/usr/bin/env bash
# Make this machine able to run the project, then create .venv with the pinned stack.
#
# Called by `make setup` (which every other target calls). Idempotent: when .venv already holds
# the pinned install for the current setup.py + constraints.txt, it only re-checks and exits.
#
# The TFX 1.21 stack ships ml-metadata / tensorflow-data-validation only as manylinux_2_39 wheels,
# which need glibc >= 2.39 era symbols and a GCC 14 libstdc++. Debian 12 (glibc 2.36) is upgraded
# in place from Debian 13's archive (libc6 + libstdc++6 only) when run as root with apt; any other
# system below the requirement stops here with the requirement named.
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/debian_packages.sh
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
REQUIRED_GLIBC=2.39

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

glibc_version() { getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}'; }
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }
has_cxxabi_1_3_15() {
  local lib
  for lib in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/aarch64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6; do
    [ -e "$lib" ] && grep -aq 'CXXABI_1.3.15' "$lib" && return 0
  done
  return 1
}

requirement_message() {
  cat <<MSG
This project needs glibc >= ${REQUIRED_GLIBC} and a GCC 14 libstdc++ (CXXABI_1.3.15), because
ml-metadata 1.21 and tensorflow-data-validation 1.21 are published only as manylinux_2_39 wheels.
Use Debian 13, Ubuntu 24.04 or newer, or the container image in kubeflow/Dockerfile.
Debian 12 is upgraded automatically when this script runs as root with apt-get.
MSG
}

upgrade_debian12_runtime() {
  # Adds Debian 13 (trixie) as a low-priority source and takes only libc6 and libstdc++6 from it.
  local src=/etc/apt/sources.list.d/bert-tfx-trixie.sources
  local pref=/etc/apt/preferences.d/bert-tfx-trixie.pref
  say "Debian $(cat /etc/debian_version) has glibc $(glibc_version); upgrading the C runtime from Debian 13 (trixie)."
  say "System changes made now:"
  say "  + ${src}: apt source for suite 'trixie' (main), same mirror and keyring as the existing Debian source"
  say "  + ${pref}: pin 'release n=trixie' at priority 100, so nothing else is taken from trixie"
  say "  + apt-get install -t trixie libc6 libstdc++6 (also brings libc6-dev, the GCC 14 runtime libraries, dpkg-dev)"
  cat >"$src" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat >"$pref" <<PREF
Package: *
Pin: release n=trixie
Pin-Priority: 100
PREF
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie libc6 libstdc++6 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    | grep -E '^(Unpacking|Setting up) ' | sed 's/^/[setup]   /' || true
  say "Now glibc $(glibc_version)."
}

check_system() {
  local v
  v=$(glibc_version)
  [ -n "$v" ] || die "cannot read the glibc version (getconf GNU_LIBC_VERSION). $(requirement_message)"
  if version_ge "$v" "$REQUIRED_GLIBC" && has_cxxabi_1_3_15; then
    return 0
  fi
  if [ -f /etc/debian_version ] && [[ "$(cat /etc/debian_version)" == 12* ]] \
     && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    upgrade_debian12_runtime
    version_ge "$(glibc_version)" "$REQUIRED_GLIBC" && has_cxxabi_1_3_15 \
      || die "the Debian 13 runtime upgrade did not take. $(requirement_message)"
    return 0
  fi
  die "found glibc ${v}$(has_cxxabi_1_3_15 || echo ' and no CXXABI_1.3.15 in libstdc++'). $(requirement_message)"
}

check_python() {
  command -v "$PYTHON" >/dev/null || die "${PYTHON} not found: this project needs Python 3.11 (set PYTHON=/path/to/python3.11)."
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "$("$PYTHON" --version 2>&1) found; this project needs Python 3.11 (TFX 1.21 + kfp)."
}

# pip on some machines is configured with local indexes that do not exist; drop those warnings only.
pip_install() {
  "${VENV}/bin/python" -m pip install -q "$@" 2> >(grep -v "^WARNING: Location 'file://" >&2)
}
pinned() { sed -n "s/^$1==//p" constraints.txt; }

install_stamp() { cat setup.py constraints.txt | sha256sum | cut -c1-16; }

# Debian packages for the commands each binary stands for; installed when missing, as root with apt.
# Graphviz's `dot` draws the lineage pictures of `bert-tfx lineage --svg` and of the run report.
# With `--with-test-tools` also what the tests start: MariaDB (a real MySQL ML Metadata store), Chromium
# (the browser test of the run report), and podman, runc and debootstrap (the Kubeflow image and its run).
install_system_tools() {
  local wanted=("dot:graphviz") missing
  [ "${1:-}" = "--with-test-tools" ] \
    && wanted+=("mariadbd:mariadb-server" "chromium:chromium" "podman:podman" "runc:runc" "debootstrap:debootstrap")
  mapfile -t missing < <(missing_debian_packages "${wanted[@]}")
  [ ${#missing[@]} -eq 0 ] && return 0
  if can_apt_install; then
    say "installing Debian packages: ${missing[*]}"
    apt_install "${missing[@]}"
    # Debian starts the server it installs; the tests start their own.
    if [[ " ${missing[*]} " == *" mariadb-server "* ]]; then
      service mariadb stop >/dev/null 2>&1 || true
    fi
  else
    say "WARNING: not installed (needs root and apt-get): ${missing[*]}; install them to draw lineage pictures"
    say "         and to run the tests that start MariaDB, Chromium and podman."
  fi
}

# The `interop` extra (transformers and the CPU build of PyTorch), which the tests that load the exported model in
# those libraries need: with `--with-test-tools` only, so `make run` never installs PyTorch. The pinned CPU wheel is
# taken from /opt/wheels where this machine has it, else from PyTorch's CPU index (PyPI's build carries CUDA, several
# GB).
install_interop_extra() {
  local stamp_file="${VENV}/.bert-tfx-interop-installed" want
  want=$(install_stamp)
  [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ] && return 0
  say "installing the interop test extra (transformers, PyTorch for the CPU) into ${VENV}"
  local torch_source=(--extra-index-url https://download.pytorch.org/whl/cpu)
  compgen -G "/opt/wheels/torch-$(pinned torch)-*.whl" >/dev/null && torch_source=(--find-links /opt/wheels)
  pip_install -c constraints.txt "${torch_source[@]}" -e ".[dev,interop]"
  echo "$want" >"$stamp_file"
}

main() {
  check_python
  check_system
  install_system_tools "${1:-}"
  local stamp_file="${VENV}/.bert-tfx-installed" want
  want=$(install_stamp)
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
    say "${VENV} is up to date (pinned install ${want}); nothing to do."
    [ "${1:-}" = "--with-test-tools" ] && install_interop_extra
    return 0
  fi
  [ -x "${VENV}/bin/python" ] || { say "creating ${VENV}"; "$PYTHON" -m venv "$VENV"; }
  say "installing the project and its pinned dependencies into ${VENV} (about 3.5 GB, a few minutes)"
  local start=$SECONDS
  pip_install --upgrade "pip==$(pinned pip)" "setuptools==$(pinned setuptools)" "wheel==$(pinned wheel)"
  pip_install -c constraints.txt -e ".[dev]"
  echo "$want" >"$stamp_file"
  say "installed in $((SECONDS - start)) s."
  [ "${1:-}" = "--with-test-tools" ] && install_interop_extra
  return 0
}

main "$@"
