# shellcheck shell=bash
# Shared by deploy/local/up, down and role (sourced, not run).

die() {
    echo "deploy/local: $*" >&2
    exit 1
}

# alive_pid DIR NAME: prints the PID recorded for NAME when that process still runs and is ours (its command line
# names DIR, or it works in DIR: redis-server rewrites its command line to "redis-server ADDR:PORT", and only its
# working directory, its --dir, still shows DIR; so a recycled PID of another program is never signalled); fails
# otherwise.
alive_pid() {
    local file="$1/run/$2.pid" pid
    [ -f "$file" ] || return 1
    pid=$(cat "$file")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    running "$pid" || return 1
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1/"; then
        [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$1"/* ]] || return 1
    fi
    echo "$pid"
}

# running PID: whether PID runs (a zombie does not: these processes are nobody's children once up has exited).
running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    [[ "${stat##*) }" != Z* ]]
}

# wait_for WHAT TRIES CMD...: runs CMD every 0.1 s until it succeeds, at most TRIES times.
wait_for() {
    local what=$1 tries=$2
    shift 2
    for _ in $(seq 1 "$tries"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what did not come up (see $DIR/logs/)"
}

# free_ports N: N distinct free TCP ports on 127.0.0.1 (bound together, then released).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
