#!/usr/bin/env bash
# Install a one-node SLURM (Debian's packages) for tests/test_slurm.py: the daemons are started by the tests
# themselves (tests/slurm_cluster.py), with their own slurm.conf in a temporary folder. Needs root.
set -euo pipefail
if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null; then
    echo "slurm: already installed ($(slurmd -V 2>/dev/null))"
else
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
    echo "slurm: installed ($(slurmd -V 2>/dev/null))"
fi
# munged refuses to start without a key; the package normally creates one, a minimal image may not
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
fi
chown munge:munge /etc/munge/munge.key 2>/dev/null || true
chmod 400 /etc/munge/munge.key
