#!/bin/bash
# start.sh DIR — start a throw-away single-node Ceph cluster (1 mon, 1 memstore
# OSD, 1 radosgw, no mgr) in the private directory DIR, bound to 127.0.0.1
# only, and create an S3 user.  Writes:
#   DIR/ceph.conf            private config (ceph -c DIR/ceph.conf --no-mon-config health)
#   DIR/env                  RGW_ENDPOINT RGW_PORT RGW_ACCESS_KEY RGW_SECRET_KEY
#   DIR/pids/*.pid           one pid file per daemon started (read by stop.sh)
#   DIR/log/                 daemon logs
# Optional env:
#   FAKETIME_OFFSET=+20m     start radosgw alone under libfaketime with that
#                            offset (its wall clock is skewed, monotonic is not)
#   RGW_PORT=N               use that port for S3 instead of a free one
#   RGW_SSL_CERT=F RGW_SSL_KEY=K  serve HTTPS only (beast ssl_endpoint) with
#                            that PEM certificate and key
# DIR must not exist or be empty.  On failure everything started is stopped.
set -euo pipefail

die() { echo "test/ceph/start.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool /usr/bin/python3; do
    command -v "$b" >/dev/null || die "$b not found (run $HERE/install.sh)"
done

mkdir -p "$1"
DIR=$(cd "$1" && pwd -P)
[ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty"
mkdir -p "$DIR"/{mon,osd,rgw,run,log,pids}

T0=$(date +%s.%N)
# Phase timestamps (seconds since start) go to DIR/log/start-timings.
mark() { echo "$(date +%s.%N) $T0 $1" | awk '{printf "%6.2f %s\n", $1-$2, $3}' >>"$DIR/log/start-timings"; }
ok=0
cleanup() {
    if [ $ok != 1 ]; then
        echo "test/ceph/start.sh: failed; last log lines:" >&2
        for f in "$DIR"/log/mon.a.log "$DIR"/log/osd.0.log "$DIR"/log/client.rgw.log; do
            [ -s "$f" ] || continue
            echo "== $f" >&2; tail -n 8 "$f" | cut -c1-300 >&2
        done
        echo "test/ceph/start.sh: logs kept in $DIR/log" >&2
        "$HERE/stop.sh" --keep "$DIR" >&2 || true
    fi
}
trap cleanup EXIT

# Free loopback ports (bind to port 0, read back, release).
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
MON_PORT=$(free_port)
RGW_PORT=${RGW_PORT:-$(free_port)}
while [ "$RGW_PORT" = "$MON_PORT" ]; do RGW_PORT=$(free_port); done
FSID=$(cat /proc/sys/kernel/random/uuid)
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
CONF=$DIR/ceph.conf
SCHEME=http
FRONTEND="beast endpoint=127.0.0.1:$RGW_PORT"
if [ -n "${RGW_SSL_CERT:-}" ]; then
    [ -f "$RGW_SSL_CERT" ] && [ -f "${RGW_SSL_KEY:-}" ] || die "RGW_SSL_CERT/RGW_SSL_KEY: need both files"
    SCHEME=https
    FRONTEND="beast ssl_endpoint=127.0.0.1:$RGW_PORT ssl_certificate=$RGW_SSL_CERT ssl_private_key=$RGW_SSL_KEY"
fi

cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v1:127.0.0.1:$MON_PORT]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
keyring = $DIR/keyring
run dir = $DIR/run
log file = $DIR/log/\$name.log
crash dir = $DIR/log/crash
mon data = $DIR/mon/\$id
osd data = $DIR/osd/\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd crush initial weight = 1
# The OSD's own start-up mon commands (crush create-or-move, set-device-class)
# could race its monmap and fail with 'wrong fsid' (EPERM), killing the OSD
# (see --no-mon-config below); start.sh places osd.0 in the crush map itself.
osd crush update on start = false
osd class update on start = false
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail crit = 1
mon data avail warn = 2
paxos propose interval = 0.1
mon mgr mkfs grace = 86400

[mon]
pid file = $DIR/pids/\$name.pid

[osd]
pid file = $DIR/pids/\$name.pid

[client.rgw]
pid file = $DIR/pids/\$name.pid
ms mon client mode = crc
auth client required = none
rgw data = $DIR/rgw
rgw frontends = $FRONTEND
# BUCKET.s3.bucketfs.test is served virtual-host style (harness.VirtualHostDomain;
# the tests map the names in /etc/hosts); any other Host header path style.
rgw dns name = s3.bucketfs.test
rgw thread pool size = 64
# The lifecycle worker sleeps 5 s uninterruptibly (during 00:00-06:00 UTC, its
# default work window), which makes SIGTERM take ~5 s.
rgw enable lc threads = false
# SSE-KMS with the "testing" backend's static key (tests only), also over
# plain HTTP; the key is harness.KMSKeyName's.
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = bucketfs-test-key=MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1Njc4OTBhYmNkZWY=
rgw crypt require ssl = false
EOF

# --no-mon-config on every daemon and client: otherwise each first fetches its
# config from the mon with a throw-away MonClient, and the real MonClient then
# starts from a monmap without fsid. Commands it sends before the mon's monmap
# arrives fail with "wrong fsid" (EPERM; the ceph CLI says "problem getting
# command descriptions from mon"); seen in ~1 of 40 CLI calls under load.
# "no mon config" cannot be set in ceph.conf; it exists only as an argument.
C=(-c "$CONF" --no-mon-config)

mark config
# --- monitor ---------------------------------------------------------------
monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$DIR/monmap" >/dev/null
ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' \
    --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
    >"$DIR/log/mon-mkfs.out" 2>&1 || { cat "$DIR/log/mon-mkfs.out" >&2; die "ceph-mon --mkfs failed"; }
ceph-mon "${C[@]}" -i a >"$DIR/log/mon.a.out" 2>&1 \
    || { cat "$DIR/log/mon.a.out" >&2; die "ceph-mon failed"; }

mark mon
# --- OSD -------------------------------------------------------------------
OSD_ID=$(ceph "${C[@]}" --connect-timeout 15 osd new "$OSD_UUID")
[ "$OSD_ID" = 0 ] || die "unexpected osd id '$OSD_ID'"
mkdir -p "$DIR/osd/$OSD_ID"
ceph-osd "${C[@]}" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/osd-mkfs.out" 2>&1 \
    || { cat "$DIR/log/osd-mkfs.out" >&2; die "ceph-osd --mkfs failed"; }
ceph "${C[@]}" osd crush add "osd.$OSD_ID" 1.0 root=default >"$DIR/log/crush-add.out" 2>&1 \
    || { cat "$DIR/log/crush-add.out" >&2; die "ceph osd crush add failed"; }
# Retry once or twice should the OSD still die during start-up.
for try in 1 2 3; do
    if ceph-osd "${C[@]}" -i "$OSD_ID" >"$DIR/log/osd.$OSD_ID.out" 2>&1; then
        break
    fi
    [ $try -lt 3 ] || { cat "$DIR/log/osd.$OSD_ID.out" >&2; die "ceph-osd failed"; }
    echo "test/ceph/start.sh: ceph-osd failed to start (try $try), retrying" >&2
    sleep 0.2
done

mark osd-started
# Wait until the OSD is up and in.
for _ in $(seq 1 300); do
    if ceph "${C[@]}" osd dump 2>/dev/null | grep -q "^osd\.$OSD_ID up  *in "; then
        break
    fi
    sleep 0.1
done
ceph "${C[@]}" osd dump | grep -q "^osd\.$OSD_ID up  *in " || die "osd.$OSD_ID did not come up"

mark osd-up
# --- radosgw ---------------------------------------------------------------
if [ -n "${FAKETIME_OFFSET:-}" ]; then
    LIBFT=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
    [ -f "$LIBFT" ] || die "$LIBFT missing (apt-get install faketime)"
    # Only CLOCK_REALTIME is shifted; monotonic clocks stay real so the
    # daemon's timers, timeouts and condition waits keep working.
    LD_PRELOAD=$LIBFT FAKETIME="$FAKETIME_OFFSET" DONT_FAKE_MONOTONIC=1 \
        radosgw "${C[@]}" -n client.rgw >"$DIR/log/client.rgw.out" 2>&1 \
        || { cat "$DIR/log/client.rgw.out" >&2; die "radosgw failed"; }
else
    radosgw "${C[@]}" -n client.rgw >"$DIR/log/client.rgw.out" 2>&1 \
        || { cat "$DIR/log/client.rgw.out" >&2; die "radosgw failed"; }
fi

mark rgw-started
# Wait for S3 to answer (anonymous GET / -> 200 ListAllMyBucketsResult).
# Gives up at once if radosgw exits (e.g. its port is taken: see
# DIR/log/client.rgw.log).
/usr/bin/python3 - "$RGW_PORT" "$DIR/pids/client.rgw.pid" "$SCHEME" <<'PY' || die "radosgw did not answer on 127.0.0.1:$RGW_PORT"
import http.client, os, ssl, sys, time
port, pidfile, scheme = int(sys.argv[1]), sys.argv[2], sys.argv[3]
deadline, last = time.time() + 30, None
while time.time() < deadline:
    try:
        pid = int(open(pidfile).read().strip())
        os.kill(pid, 0)
        if open("/proc/%d/stat" % pid).read().split(") ")[1][0] == "Z":
            raise ProcessLookupError
    except (OSError, ValueError):
        print("radosgw (pid file %s) is not running" % pidfile, file=sys.stderr)
        sys.exit(1)
    try:
        if scheme == "https":
            # Only asks whether radosgw is up; clients check the certificate.
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=2,
                                            context=ssl._create_unverified_context())
        else:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/")
        r = c.getresponse(); r.read()
        if r.status == 200:
            sys.exit(0)
        last = r.status
    except OSError as e:
        last = e
    time.sleep(0.1)
print("last answer:", last, file=sys.stderr)
sys.exit(1)
PY

mark rgw-ready
# Create the S3 user as client.admin (client.rgw's admin socket is held by
# the daemon); user and keys are fresh per run.  Done after radosgw answers:
# should radosgw die half-way, its stale watches make this wait ~30 s.
ACCESS_KEY=$(/usr/bin/python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_uppercase+string.digits) for _ in range(20)))')
SECRET_KEY=$(/usr/bin/python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_letters+string.digits) for _ in range(40)))')
radosgw-admin "${C[@]}" user create --uid=test --display-name="bucketfs test" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$DIR/log/user-create.out" 2>&1 \
    || { cat "$DIR/log/user-create.out" >&2; die "radosgw-admin user create failed"; }

mark user-created

for n in mon.a osd.$OSD_ID client.rgw; do
    [ -s "$DIR/pids/$n.pid" ] || die "missing pid file $DIR/pids/$n.pid"
done

cat >"$DIR/env" <<EOF
RGW_ENDPOINT=$SCHEME://127.0.0.1:$RGW_PORT
RGW_PORT=$RGW_PORT
RGW_ACCESS_KEY=$ACCESS_KEY
RGW_SECRET_KEY=$SECRET_KEY
EOF
ok=1
/usr/bin/python3 -c 'import sys; print("test/ceph/start.sh: RGW on %s://127.0.0.1:%s ready in %.1fs" % (sys.argv[1], sys.argv[2], float(sys.argv[3]) - float(sys.argv[4])), file=sys.stderr)' \
    "$SCHEME" "$RGW_PORT" "$(date +%s.%N)" "$T0"
