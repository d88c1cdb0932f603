# Shell helpers shared by the deploy and bench scripts (sourced).

# A port nothing listens on, below the kernel's ephemeral range: a port
# the kernel picked would be free now but may be given to an outgoing
# connection before the process that is to listen on it starts. Nor one
# handed out already but not yet listened on: one named in an AUDORA_*
# variable of the environment or in the files given (any number in them).
free_port() {
    /usr/bin/python3 - "$@" <<'PY'
import os, random, re, socket, sys
taken = set()
for k, v in os.environ.items():
    if k.startswith("AUDORA_"):
        taken.update(int(p) for p in re.findall(r":(\d+)", v))
for f in sys.argv[1:]:
    try:
        taken.update(int(p) for p in re.findall(r"\d+", open(f).read()))
    except OSError:
        pass
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    p = random.randrange(10000, max(lo, 10001))
    if p in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()
PY
}

# Private relay endpoints, so two clusters on one machine do not collide.
export_relay_ports() {
    export AUDORA_ZMQ__ENRICH_IN=tcp://127.0.0.1:$(free_port)
    export AUDORA_ZMQ__ENRICH_OUT=tcp://127.0.0.1:$(free_port)
    export AUDORA_ZMQ__ANALYTICS_IN=tcp://127.0.0.1:$(free_port)
    export AUDORA_ZMQ__ANALYTICS_OUT=tcp://127.0.0.1:$(free_port)
}

# Starts audora-replay ($BIN) on a free port with the fixtures $1, adding
# $2 ms to every answer, its output in $3.out and $3.log; sets replay_pid
# and replay_addr and points every live source at it (with the
# credentials it accepts).
start_replay() {
    "$BIN/audora-replay" --fixtures "$1" --latency-ms "${2:-0}" \
        >"$3.out" 2>"$3.log" &
    replay_pid=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$3.out" && break
        sleep 0.1
    done
    replay_addr=$(sed -n 's/^replay: listening on //p' "$3.out")
    [ -n "$replay_addr" ] || { echo "audora-replay did not start" >&2; return 1; }
    export AUDORA_LASTFM__BASE_URL=http://$replay_addr/lastfm/2.0/
    export AUDORA_LASTFM__API_KEY=replay
    export AUDORA_SPOTIFY__API_URL=http://$replay_addr/spotify/v1
    export AUDORA_SPOTIFY__ACCOUNTS_URL=http://$replay_addr/spotify/api/token
    export AUDORA_SPOTIFY__CLIENT_ID=audora-replay
    export AUDORA_SPOTIFY__CLIENT_SECRET=audora-replay-secret
    export AUDORA_MUSICBRAINZ__BASE_URL=http://$replay_addr/musicbrainz/ws/2
}

# replay_stat SERVICE FIELD: a service's count from the replay server.
replay_stat() {
    curl -s "http://$replay_addr/_stats" | /usr/bin/python3 -c \
        "import json, sys; print(json.load(sys.stdin)['services']['$1']['$2'])"
}
