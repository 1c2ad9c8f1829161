#!/bin/bash
# stop.sh [--keep] DIR — stop exactly the daemons test/ceph/start.sh started in
# DIR (by the pid files in DIR/pids, never by process name), wait for each to
# exit, then remove DIR (unless --keep).  Safe to run twice.
set -euo pipefail

die() { echo "test/ceph/stop.sh: $*" >&2; exit 1; }
keep=0
if [ "${1:-}" = --keep ]; then keep=1; shift; fi
[ $# -eq 1 ] || die "usage: $0 [--keep] DIR"
[ -d "$1" ] || exit 0
DIR=$(cd "$1" && pwd -P)
CONF=$DIR/ceph.conf

# A pid is ours only while that process runs with our private ceph.conf on its
# command line (guards against a recycled pid; a zombie has no command line).
ours() {
    { tr '\0' '\n' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qxF "$CONF"
}

# One at a time, radosgw first, then the OSD, then the monitor: an OSD whose
# monitor is already gone waits 5 s (osd_mon_shutdown_timeout) on SIGTERM.
failed=()
for f in "$DIR"/pids/client.*.pid "$DIR"/pids/osd.*.pid "$DIR"/pids/mon.*.pid; do
    [ -f "$f" ] || continue
    pid=$(tr -dc 0-9 <"$f")
    [ -n "$pid" ] && ours "$pid" || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do      # up to ~10 s
        ours "$pid" || break
        sleep 0.05
    done
    if ours "$pid"; then
        echo "test/ceph/stop.sh: $(basename "$f" .pid) (pid $pid) ignored SIGTERM, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            ours "$pid" || break
            sleep 0.05
        done
        ours "$pid" && failed+=("$pid")
    fi
done
[ ${#failed[@]} -eq 0 ] || die "daemons still running: ${failed[*]}"

if [ $keep = 0 ]; then
    rm -rf "$DIR"
fi
