# bench/container-latency: latency and executions/s of `true` in a container
# through execd (backends docker, podman) against `docker run --rm` and
# `podman run --rm` on the same engines (bench/README.md).  A script, run by
# hand from the build tree; it finds the engines that scripts/engines.sh
# starts, and uses that script for podman's private storage flags.
EXTRA_DIST += bench/container-latency scripts/engines.sh
