# Sourced by scripts/setup_env.sh and kubeflow/build_image.sh: Debian packages for the commands a step needs.

# Prints, one a line, the package of each `command:package` pair whose command is not installed.
missing_debian_packages() {
  local entry
  for entry in "$@"; do
    command -v "${entry%%:*}" >/dev/null || [ -x "/usr/sbin/${entry%%:*}" ] || printf '%s\n' "${entry#*:}"
  done
}

# Whether this process may install Debian packages (root, with apt-get).
can_apt_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
