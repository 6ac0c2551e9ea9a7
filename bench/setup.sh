#!/bin/sh
# Tools the benchmarks need on a clean Debian/Ubuntu machine (they are not part of npm test, so
# .ci/run does not install them): wrk drives bench/http; zip, gpg and psql are the privacy
# export's shell-pipeline floor; unzip checks archives. Run as root: sh bench/setup.sh
set -eu
apt-get update
apt-get install -y wrk zip unzip gnupg postgresql-client
