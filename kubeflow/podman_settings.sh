# Sourced by the scripts that run podman here: the OCI runtime and the ulimits that work in this sandbox
# (podman's default ulimits are refused: "setrlimit RLIMIT_NOFILE: Operation not permitted").
# PODMAN_GLOBAL_FLAGS go before the podman command, PODMAN_RUN_FLAGS after `run` or `build`.
PODMAN_GLOBAL_FLAGS=(--runtime "${PODMAN_RUNTIME:-runc}")
PODMAN_RUN_FLAGS=(--ulimit nofile=1024:4096 --ulimit nproc=1024:4096)
