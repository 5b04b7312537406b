#!/bin/sh
# Installs what building and testing execd needs on Debian 12 (as root).
set -eu
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then
  echo "install-deps.sh: run as root (apt-get install)" >&2
  exit 1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  build-essential autoconf automake libtool libltdl-dev pkg-config \
  libuv1-dev libjansson-dev libconfig-dev libssl-dev libbsd-dev libarchive-dev zlib1g-dev \
  libcurl4-openssl-dev libmicrohttpd-dev libsystemd-dev check libsubunit-dev libpcre2-dev \
  python3 procps curl groff-base man-db >/dev/null
# libyaml: the kubernetes backend's kubeconfig files.
apt-get install -y -qq --no-install-recommends libyaml-dev >/dev/null
# The draft 2020-12 metaschemas for the JSON Schema test suite
# (tests/unit/test_jsonschema_suite) and the validator's second opinion.
apt-get install -y -qq --no-install-recommends python3-jsonschema >/dev/null
# The postgres storage: libpq to build it, the PostgreSQL server for its
# tests (tests/postgres/pg-cluster.sh starts a private cluster).
apt-get install -y -qq --no-install-recommends libpq-dev postgresql >/dev/null
# The fuzz targets (tests/fuzz/, configure --enable-fuzzing CC=clang):
# clang and libFuzzer's runtime with the sanitizers'.
apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
# Debian packaging and the install test (tests/install/): dpkg-buildpackage,
# dch, lintian, a Debian 12 root made with mmdebstrap, ip netns.
apt-get install -y -qq --no-install-recommends \
  dpkg-dev debhelper devscripts lintian mmdebstrap iproute2 util-linux >/dev/null
# Container engines for the docker and podman backend tests
# (scripts/engines.sh); podman runs its containers with runc here; openssl
# makes the certificates of dockerd's TLS endpoint.
# docker-registry and apache2-utils (htpasswd -B: the registry's htpasswd
# auth needs bcrypt) for the image pull tests against a local registry.
apt-get install -y -qq --no-install-recommends \
  docker.io podman runc crun busybox-static catatonit docker-registry apache2-utils openssl >/dev/null
# The redis transport (plugins/transport/redis, lib/uvredis): hiredis, and
# redis-server for its tests (each test starts a private one).
apt-get install -y -qq --no-install-recommends libhiredis-dev redis-server >/dev/null
