#!/usr/bin/env bash
# Remake every example capture of smtpdoc from scratch, on loopback only.
#
#   sudo examples/make_examples.sh                  # every capture
#   sudo examples/make_examples.sh NAME...          # only these captures, e.g.
#   sudo examples/make_examples.sh mail-params tls-resumed
#
# NAME is a capture's file name without .pcapng (tests/data/mail-params.pcapng ->
# mail-params).  With names, every other capture and key log is left untouched (the
# derived captures too), so new scenarios can be added without remaking the
# committed files.  A name that matches no scenario is an error.
#
# What it does (Debian/Ubuntu, must run as root: port 25, tcpdump, Postfix):
#   1. apt-get installs what is missing: postfix (installed *unconfigured*; the
#      system instance is never configured or started), tcpdump, tshark/editcap,
#      openssl, python3-venv.  A venv with aiosmtpd is made in $LAB/venv.
#   2. Makes a throwaway self-signed certificate, CN=mail.example.test.
#   3. Starts a private Postfix instance (its own config and queue under $LAB,
#      listening on 127.0.0.1:25, :2525, :465 and :587 only, delivering everything to
#      the "discard" transport: nothing is relayed or stored), then aiosmtpd lab
#      servers (examples/lab/lab_server.py) on 127.0.0.1:587 and [::1]:25, then
#      Python's http.server on 127.0.0.1:25 (a port-25 server that does not speak SMTP).
#   4. For each scenario: tcpdump -i lo -U --immediate-mode -w ... 'tcp port N', one client
#      session (examples/lab/lab_client.py or openssl s_client), stop tcpdump,
#      convert to pcapng.
#   5. Stops everything it started (also on error: trap).
#
# Outputs: examples/*.pcapng (+ .keylog) and tests/data/*.pcapng (+ .keylog).
# Environment: SMTPDOC_LAB_DIR (default /var/tmp/smtpdoc-lab) for the scratch
# directory (certificate, Postfix instance, raw captures, venv).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
EX=$HERE
TD=$REPO/tests/data
LABSRC=$HERE/lab
LAB=${SMTPDOC_LAB_DIR:-/var/tmp/smtpdoc-lab}
PF=$LAB/pf
PFETC=$PF/etc
CERT=$LAB/tls/cert.pem
KEY=$LAB/tls/key.pem
RAW=$LAB/raw
PY=$LAB/venv/bin/python

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

ONLY=("$@")   # capture names to make; none: all of them
MADE=()
wanted() {  # name: is this capture to be made in this run?
    [ ${#ONLY[@]} -eq 0 ] && return 0
    local n
    for n in "${ONLY[@]}"; do [ "$n" = "$1" ] && return 0; done
    return 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (port 25, tcpdump, postfix)"

# ---------------------------------------------------------------- cleanup --
TCPDUMP_PID=""
SERVER_PID=""
postfix_running() { [ -f "$PFETC/main.cf" ] && postfix -c "$PFETC" status >/dev/null 2>&1; }
postfix_stop() {
    if postfix_running; then
        local mpid
        mpid=$(cat "$PF/spool/pid/master.pid" 2>/dev/null | tr -d ' ' || true)
        postfix -c "$PFETC" stop >/dev/null 2>&1 || true
        for _ in $(seq 50); do
            [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null || break
            sleep 0.1
        done
    fi
}
server_stop() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    local rc=$?
    if [ -n "$TCPDUMP_PID" ]; then
        kill -INT "$TCPDUMP_PID" 2>/dev/null || true
        wait "$TCPDUMP_PID" 2>/dev/null || true
    fi
    server_stop
    postfix_stop
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --------------------------------------------------------------- packages --
need=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
for p in postfix tcpdump tshark openssl python3 python3-venv ca-certificates; do
    installed "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    # Postfix is installed unconfigured: only the private instance below runs.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
command -v editcap >/dev/null || die "editcap missing (package wireshark-common)"

# -------------------------------------------------------------- lab dir ----
postfix_stop   # a left-over instance of an earlier, interrupted run
for port in 25 465 587 2525; do
    if ss -Hltn "( sport = :$port )" | grep -q .; then
        die "port $port is already in use; stop whatever listens there first"
    fi
done
mkdir -p "$LAB"
find "$LAB" -mindepth 1 -maxdepth 1 ! -name venv -exec rm -rf {} +
mkdir -p "$LAB/tls" "$PFETC" "$PF/spool" "$PF/data" "$RAW" "$TD"
chmod 755 "$LAB"

if ! [ -x "$PY" ] || ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
    log "venv with aiosmtpd in $LAB/venv"
    rm -rf "$LAB/venv"
    /usr/bin/python3 -m venv "$LAB/venv"
    "$LAB/venv/bin/pip" install -q aiosmtpd
fi

log "throwaway certificate CN=mail.example.test"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
    -keyout "$KEY" -out "$CERT" -subj '/CN=mail.example.test' \
    -addext 'subjectAltName=DNS:mail.example.test' 2>/dev/null

# ---------------------------------------------------------------- postfix --
log "private Postfix instance in $PF"
cat >"$PFETC/main.cf" <<EOF
# smtpdoc lab instance: loopback only, never relays, never stores mail.
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/maillog
myhostname = mail.example.test
mydomain = example.test
myorigin = example.test
mydestination = example.test, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
default_transport = discard:no relaying in the smtpdoc lab
relay_transport = discard:no relaying in the smtpdoc lab
local_transport = discard:smtpdoc lab mailbox
local_recipient_maps = inline:{alice=ok, bob=ok, carol=ok, postmaster=ok}
alias_maps =
alias_database =
smtpd_relay_restrictions = reject_unauth_destination
smtpd_banner = \$myhostname ESMTP \$mail_name
smtpd_tls_security_level = may
smtpd_tls_cert_file = $CERT
smtpd_tls_key_file = $KEY
smtpd_tls_loglevel = 1
message_size_limit = 35882577
smtputf8_enable = yes
biff = no
EOF
cp /etc/postfix/master.cf.proto "$PFETC/master.cf"
postconf -c "$PFETC" -F '*/*/chroot = n'
postconf -c "$PFETC" -MX smtp/inet
postconf -c "$PFETC" -M \
    '25/inet = 25 inet n - n - - smtpd' \
    '2525/inet = 2525 inet n - n - - smtpd' \
    '465/inet = 465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes' \
    '587/inet = 587 inet n - n - - smtpd -o smtpd_tls_protocols=>=TLSv1.2'
chown postfix: "$PF/data"

# ---------------------------------------------------------------- helpers --
wait_listen() {  # addr port   (addr as ss prints it: 127.0.0.1 or [::1])
    for _ in $(seq 100); do
        ss -Hltn "( sport = :$2 )" | grep -qF "$1:$2" && return 0
        sleep 0.1
    done
    die "nothing listening on $1:$2"
}

cap_start() {  # name bpf-filter
    local name=$1 filter=$2
    rm -f "$RAW/$name.pcap" "$RAW/$name.err"
    # --immediate-mode: without it, TPACKET_V3 hands packets to tcpdump only
    # when a ring block fills or its 1 s timeout expires, and packets still in
    # the ring at SIGINT are lost (a short session then yields 0 packets).
    # SNAPLEN (environment) cuts every frame to that many bytes, like a capture taken with -s.
    tcpdump -i lo -U --immediate-mode -Z root ${SNAPLEN:+-s "$SNAPLEN"} -w "$RAW/$name.pcap" "$filter" \
        2>"$RAW/$name.err" &
    TCPDUMP_PID=$!
    for _ in $(seq 100); do
        grep -q 'listening on' "$RAW/$name.err" 2>/dev/null && return 0
        sleep 0.1
    done
    die "tcpdump did not start: $(cat "$RAW/$name.err")"
}

cap_stop() {  # destination.pcapng
    sleep 0.5                           # let the last FIN/ACK reach the wire
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=""
    if grep -q '^0 packets captured' "$RAW/$(basename "$1" .pcapng).err"; then
        die "tcpdump captured nothing for $1"
    fi
    editcap -F pcapng "$RAW/$(basename "$1" .pcapng).pcap" "$1"
    printf '   %-45s %3s frames\n' "${1#"$REPO"/}" "$(capinfos -Mc "$1" | awk '/Number of packets/ {print $NF}')" >&2
}

# run DEST PORT CMD...   capture 'tcp port PORT' while CMD runs
run() {
    local dest=$1 port=$2
    shift 2
    run_filter "$dest" "tcp port $port" "$@"
}

# run_filter DEST BPF CMD...   capture what BPF matches while CMD runs
run_filter() {
    local dest=$1 filter=$2
    shift 2
    wanted "$(basename "$dest" .pcapng)" || return 0
    MADE+=("$(basename "$dest" .pcapng)")
    cap_start "$(basename "$dest" .pcapng)" "$filter"
    "$@" >"$RAW/$(basename "$dest" .pcapng).client.log" 2>&1 || {
        cat "$RAW/$(basename "$dest" .pcapng).client.log" >&2
        die "client failed for $dest"
    }
    cap_stop "$dest"
}

client() { "$PY" "$LABSRC/lab_client.py" "$@"; }

# openssl s_client offering only TLS 1.0 (STARTTLS); a refusal is an outcome too.
old_tls_client() {  # port keylog
    (printf 'EHLO client.example.test\r\n'; sleep 0.5; printf 'QUIT\r\n'; sleep 0.5) |
        timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$1" \
            -name client.example.test -tls1 -cipher 'DEFAULT:@SECLEVEL=0' \
            -keylogfile "$2" -quiet || true
}

keyed() {  # keylog-path: fresh key log for one scenario (left alone when it is not made)
    if wanted "$(basename "$1" .keylog)"; then rm -f "$1"; fi
    echo "$1"
}

# ------------------------------------------------ scenarios against Postfix --
log "Postfix scenarios"
postfix -c "$PFETC" start
wait_listen 127.0.0.1 25
wait_listen 127.0.0.1 465
wait_listen 127.0.0.1 2525
wait_listen 127.0.0.1 587

run "$EX/starttls.pcapng" 25 client starttls 127.0.0.1 25 --keylog "$(keyed "$EX/starttls.keylog")"
if wanted starttls; then
    editcap --inject-secrets "tls,$EX/starttls.keylog" "$EX/starttls.pcapng" "$EX/starttls-dsb.pcapng"
fi
run "$EX/plain.pcapng"             25   client plain 127.0.0.1 25
run "$TD/pipelining.pcapng"        25   client pipelining 127.0.0.1 25
run "$TD/starttls-split.pcapng"    25   client starttls-split 127.0.0.1 25 --keylog "$(keyed "$TD/starttls-split.keylog")"
run "$TD/starttls-injection.pcapng" 25  client starttls-injection 127.0.0.1 25 --keylog "$(keyed "$TD/starttls-injection.keylog")"
run "$TD/implicit-tls-465.pcapng"  465  client implicit 127.0.0.1 465 --keylog "$(keyed "$TD/implicit-tls-465.keylog")"
run "$TD/smtp-port-2525.pcapng"    2525 client plain 127.0.0.1 2525
run "$TD/starttls-port-2525.pcapng" 2525 client starttls 127.0.0.1 2525 --keylog "$(keyed "$TD/starttls-port-2525.keylog")"
run "$TD/tls12.pcapng"             25   client tls12 127.0.0.1 25 --keylog "$(keyed "$TD/tls12.keylog")"
run "$TD/tls10-accepted.pcapng"    25   old_tls_client 25 "$(keyed "$TD/tls10-accepted.keylog")"
# port 587 of the same Postfix only allows TLS >= 1.2: the TLS 1.0-only client gets an alert
run "$TD/tls-alert-old-version.pcapng" 587 old_tls_client 587 "$(keyed "$RAW/tls-alert-old-version.keylog")"
run "$TD/bdat.pcapng"              25   client bdat 127.0.0.1 25
run "$TD/errors.pcapng"            25   client errors 127.0.0.1 25
run "$TD/bare-lf.pcapng"           25   client bare-lf 127.0.0.1 25
run "$TD/subject-script.pcapng"    25   client subject-script 127.0.0.1 25
run "$TD/attachment.pcapng"        25   client attachment 127.0.0.1 25
run "$TD/mail-params.pcapng"       25   client mail-params 127.0.0.1 25
run "$TD/no-ehlo-after-tls.pcapng" 25   client no-ehlo-after-tls 127.0.0.1 25 --keylog "$(keyed "$TD/no-ehlo-after-tls.keylog")"
# two STARTTLS sessions in one capture: the second resumes the first's TLS session
run "$TD/tls-resumed.pcapng"       25   client tls-resumed 127.0.0.1 25 --keylog "$(keyed "$TD/tls-resumed.keylog")"
postfix_stop

# ------------------------------------------------ scenarios against aiosmtpd --
server() {  # mode host port
    "$PY" "$LABSRC/lab_server.py" "$1" "$2" "$3" --cert "$CERT" --key "$KEY" \
        >>"$RAW/lab_server.log" 2>&1 &
    SERVER_PID=$!
    if [ "$2" = "::1" ]; then wait_listen "[::1]" "$3"; else wait_listen "$2" "$3"; fi
}

log "aiosmtpd scenarios"
server walkthrough ::1 25
run "$EX/starttls-ipv6.pcapng" 25 client starttls ::1 25 --keylog "$(keyed "$EX/starttls-ipv6.keylog")"
server_stop

server auth 127.0.0.1 587
run "$TD/auth-plain-cleartext.pcapng" 587 client auth-plain 127.0.0.1 587
run "$TD/auth-login-cleartext.pcapng" 587 client auth-login 127.0.0.1 587
run "$TD/auth-cram-md5.pcapng"        587 client auth-cram-md5 127.0.0.1 587
run "$TD/auth-failed-535.pcapng"      587 client auth-failed 127.0.0.1 587
server_stop

server refused 127.0.0.1 587
run "$TD/starttls-refused.pcapng" 587 client refused 127.0.0.1 587
server_stop

server masked 127.0.0.1 587
run "$TD/starttls-masked.pcapng" 587 client no-starttls 127.0.0.1 587
server_stop

server notls 127.0.0.1 587
run "$TD/starttls-not-offered.pcapng" 587 client no-starttls 127.0.0.1 587
run "$TD/starttls-stripped.pcapng"    587 client starttls-anyway 127.0.0.1 587
server_stop

server sasl 127.0.0.1 587
run "$TD/auth-xoauth2.pcapng"         587 client auth-xoauth2 127.0.0.1 587
run "$TD/auth-scram-sha-256.pcapng"   587 client auth-scram-sha-256 127.0.0.1 587
server_stop

server starttls-again 127.0.0.1 587
run "$TD/starttls-after-tls.pcapng" 587 client starttls 127.0.0.1 587 --keylog "$(keyed "$TD/starttls-after-tls.keylog")"
server_stop

# --------------------------------------------- a server that is not SMTP --
# Python's http.server on 127.0.0.1:25 (Postfix is stopped by now): an SMTP port where the
# server never greets.  Two sessions in one capture: curl asks for / (the server answers
# HTTP), then a raw client sends one segment of binary garbage (the server answers 400).
log "non-SMTP server on port 25"
mkdir -p "$LAB/www"
printf 'This is not an SMTP server.\n' >"$LAB/www/index.html"
"$PY" -m http.server --bind 127.0.0.1 --directory "$LAB/www" 25 >>"$RAW/http_server.log" 2>&1 &
SERVER_PID=$!
wait_listen 127.0.0.1 25
not_smtp_clients() {
    curl -sS --max-time 10 -o /dev/null http://127.0.0.1:25/
    sleep 0.5
    client binary-garbage 127.0.0.1 25
}
run "$TD/not-smtp-on-25.pcapng" 25 not_smtp_clients
server_stop

# ------------------------------------------------ messy sessions (issue 9) --
# examples/lab/messy_lab.py: a scripted server and a hand-driven client in one process, for
# the odd peers real captures show (see tests/data/README.md, "Messy sessions").
log "messy sessions"
messy() { "$PY" "$LABSRC/messy_lab.py" "$@" --cert "$CERT" --key "$KEY"; }
for sc in plaintext-after-starttls early-talker bare-lf-end unsolicited-replies helo-only \
    ehlo-refused-helo gloss-codes tls-no-forward-secrecy headers-encoded cut-mid-data \
    no-server-reply hangup-before-greeting; do
    run "$TD/$sc.pcapng" 25 messy "$sc"
done
for sc in auth-digest-md5 auth-ntlm auth-oauthbearer auth-brute-force implicit-tls-587; do
    run "$TD/$sc.pcapng" 587 messy "$sc"
done
run "$TD/socks5-tunnel.pcapng"         1080 messy socks5-tunnel
run "$TD/http-connect-tunnel.pcapng"   8080 messy http-connect-tunnel
# examples/lab/tunnel_lab.py: tunnels refused (HTTP 407, SOCKS5 0x05), a SOCKS5 login, SOCKS4a,
# and STARTTLS inside an HTTP CONNECT tunnel whose EHLO is pipelined behind the CONNECT.
tunnel() { "$PY" "$LABSRC/tunnel_lab.py" "$@" --cert "$CERT" --key "$KEY"; }
run "$TD/http-connect-refused.pcapng"  8080 tunnel http-connect-refused
run "$TD/http-connect-starttls.pcapng" 8080 tunnel http-connect-starttls \
    --keylog "$(keyed "$TD/http-connect-starttls.keylog")"
run "$TD/http-connect-coalesced.pcapng" 8080 tunnel http-connect-coalesced
run "$TD/socks5-refused.pcapng"        1080 tunnel socks5-refused
run "$TD/socks5-refused-short.pcapng"  1080 tunnel socks5-refused-short
run "$TD/http-connect-status-only.pcapng" 8080 tunnel http-connect-status-only
run "$TD/socks5-login.pcapng"          1080 tunnel socks5-login
run "$TD/socks4a-tunnel.pcapng"        1080 tunnel socks4a-tunnel
run "$TD/implicit-tls-odd-port.pcapng" 4650 messy implicit-tls-odd-port \
    --keylog "$(keyed "$TD/implicit-tls-odd-port.keylog")"
run "$TD/random-bytes-465.pcapng"      465  messy random-bytes-465
run "$TD/smtp-port-2526.pcapng"        2526 messy plain-session --port 2526
# A load balancer's PROXY protocol header (HAProxy's, v1 text and v2 binary) before the greeting;
# the header names 127.0.0.2:40312 as the client it speaks for (loopback too).
run "$TD/proxy-protocol-v1.pcapng"     25   messy proxy-protocol-v1
run "$TD/proxy-protocol-v2.pcapng"     25   messy proxy-protocol-v2
# SYN -> RST to the closed port 25 (twice), and a SYN to the closed port 587 whose RST the
# filter leaves out: what a port scan looks like from a tap that misses the answers.
run_filter "$TD/port-probe.pcapng" 'tcp port 25 or (tcp port 587 and tcp[tcpflags] & tcp-rst == 0)' \
    messy port-probe
# tcpdump -s 80: every frame cut to its first 80 bytes (14 bytes of the 80 are the
# loopback link header, 52 IP+TCP with timestamps: 14 bytes of SMTP survive per frame).
SNAPLEN=80 run "$TD/snaplen-80.pcapng" 25 messy plain-session
# tcpdump -s 100 (34 bytes of SMTP per frame): the message goes out in four writes, the long
# ones cut, so the text the capture keeps comes in pieces that must never be joined.
SNAPLEN=100 run "$TD/snaplen-message.pcapng" 25 messy message-in-segments

# Cuts of real captures, and (in tests/data/broken/) files cut short, odd or not captures at all.
mkdir -p "$TD/broken"
derive() {  # name: is this derived file to be made in this run?
    wanted "$1" || return 1
    MADE+=("$1")
}
if derive tls-cut-mid-handshake; then   # STARTTLS, 220, ClientHello: the capture ends there
    editcap -F pcapng -r "$EX/starttls.pcapng" "$TD/tls-cut-mid-handshake.pcapng" 1-11
fi
if derive truncated-capture; then       # the file stops inside frame 17's bytes
    editcap -F pcapng "$EX/plain.pcapng" "$RAW/plain-copy.pcapng"
    cut=$(( $(stat -c %s "$RAW/plain-copy.pcapng") * 2 / 3 ))
    head -c "$cut" "$RAW/plain-copy.pcapng" >"$TD/broken/truncated-capture.pcapng"
fi
if derive empty-file; then : >"$TD/broken/empty-file.pcapng"; fi
if derive not-a-capture; then
    printf 'This is a text file, not a packet capture.\nEHLO client.example.test\r\n' >"$TD/broken/not-a-capture.txt"
fi
if derive short-text; then               # 5 bytes of text: tshark opens it as MP4 media
    printf 'QUIT\n' >"$TD/broken/short-text.txt"
fi
if derive no-packets; then              # a pcapng header and interface block, no packets
    editcap -F pcapng -r "$EX/plain.pcapng" "$TD/no-packets.pcapng" 1000
fi
if derive odd-timestamps; then          # pcap: frame 5 earlier than frame 4, frame 9 with
    # ts_usec = 0xfffff000 (what tshark then shows as a negative fraction of a second)
    editcap -F pcap "$EX/plain.pcapng" "$RAW/plain.pcap"
    "$PY" - "$RAW/plain.pcap" "$TD/broken/odd-timestamps.pcap" <<'PYEOF'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
offsets, pos = [], 24
while pos < len(data):
    offsets.append(pos)
    pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
sec4, usec4 = struct.unpack_from("<II", data, offsets[3])
struct.pack_into("<II", data, offsets[4], sec4 - 2, usec4)
sec9, _ = struct.unpack_from("<II", data, offsets[8])
struct.pack_into("<II", data, offsets[8], sec9, 0xFFFFF000)
open(sys.argv[2], "wb").write(data)
PYEOF
fi

# ------------------------------------------------------- derived captures --
if [ ${#ONLY[@]} -eq 0 ]; then
    log "derived captures (cut from examples/plain.pcapng)"
    editcap -F pcapng "$EX/plain.pcapng" "$TD/mid-session.pcapng" 1-5
    tshark -r "$EX/plain.pcapng" -Y 'tcp.srcport == 25' -F pcapng -w "$TD/one-sided.pcapng" 2>/dev/null
else
    for n in "${ONLY[@]}"; do
        printf '%s\n' "${MADE[@]}" | grep -qxF "$n" || die "no scenario makes $n.pcapng"
    done
fi

# ----------------------------------------------------------------- checks --
log "checks"
bad=0
for f in "$EX"/*.pcapng "$TD"/*.pcapng "$TD"/broken/*; do
    addrs=$({ tshark -r "$f" -T fields -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst 2>/dev/null || true; } |
        tr '\t' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')
    for a in $addrs; do
        case $a in 127.0.0.1 | ::1) ;; *) echo "NON-LOOPBACK $a in $f" >&2; bad=1 ;; esac
    done
done
[ $bad -eq 0 ] || die "non-loopback address found"
echo "all captures use loopback addresses only" >&2
log "done"
