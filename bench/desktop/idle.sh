#!/usr/bin/env bash
# Idle memory and launch time of the desktop app vs an empty Tauri window.
#
# For each app: N launches under a private Xvfb; per launch, the time from exec
# to the window being mapped (xdotool --sync), then after IDLE seconds the PSS
# and RSS (from /proc/PID/smaps_rollup) of the app and its WebKit children.
# Prints per-run figures, medians, and ours minus empty (MB).
#
# Prerequisites (debug builds, same profile for both; see docs):
#   export CARGO_TARGET_DIR=/var/tmp/clinicall-target
#   cargo build -p clinicall-desktop
#   cargo build --manifest-path bench/desktop/empty-tauri/Cargo.toml
# Usage: bench/desktop/idle.sh   (env: N=5 IDLE=5 TARGET=$CARGO_TARGET_DIR/debug,
#        KEEP=1 keeps the temp dir with the apps' logs)
set -euo pipefail

N=${N:-5}
IDLE=${IDLE:-5}
TARGET=${TARGET:-${CARGO_TARGET_DIR:-/var/tmp/clinicall-target}/debug}
OURS=$TARGET/clinicall
EMPTY=$TARGET/empty-tauri
for b in "$OURS" "$EMPTY"; do [[ -x $b ]] || { echo "missing $b (build it first)" >&2; exit 1; }; done

TMP=$(mktemp -d)
XVFB_PID=
cleanup() { [[ -n $XVFB_PID ]] && kill "$XVFB_PID" 2>/dev/null; [[ -n ${KEEP:-} ]] || rm -rf "$TMP"; }
trap cleanup EXIT

# Our own Xvfb on the first free display number from :90.
d=90; while [[ -e /tmp/.X11-unix/X$d || -e /tmp/.X$d-lock ]]; do d=$((d + 1)); done
Xvfb ":$d" -screen 0 1920x1080x24 -nolisten tcp >"$TMP/xvfb.log" 2>&1 &
XVFB_PID=$!
export DISPLAY=":$d"
for _ in $(seq 100); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.05; done

# Same environment for both apps: software rendering as the docs recommend
# under Xvfb, no D-Bus session, HOME/XDG dirs and app config in a temp dir.
export WEBKIT_DISABLE_DMABUF_RENDERER=1
# (Unset, GLib would autolaunch a bus via dbus-launch on the X display, which
# also starts the document portal; a bus address that does not exist stops that.)
export DBUS_SESSION_BUS_ADDRESS=unix:path=$TMP/no-session-bus
export NO_AT_BRIDGE=1  # no accessibility bus either

descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/smaps_rollup" 2>/dev/null || echo 0; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# run NAME TITLE BINARY: N launches, figures to stdout, per-run rows to $TMP/NAME.
run() {
  local name=$1 title=$2 bin=$3 i
  for i in $(seq "$N"); do
    local home=$TMP/$name-home-$i
    mkdir -p "$home"/{config,data,cache,runtime,app}
    chmod 700 "$home/runtime"
    local t0 t1
    t0=$(date +%s%N)
    HOME=$home XDG_CONFIG_HOME=$home/config XDG_DATA_HOME=$home/data \
      XDG_CACHE_HOME=$home/cache XDG_RUNTIME_DIR=$home/runtime \
      CLINICALL_CONFIG_DIR=$home/app "$bin" >"$TMP/$name-$i.log" 2>&1 &
    local pid=$!
    timeout 30 xdotool search --sync --onlyvisible --name "^$title\$" >/dev/null \
      || { echo "$name run $i: no window; log:" >&2; cat "$TMP/$name-$i.log" >&2; kill "$pid"; exit 1; }
    t1=$(date +%s%N)
    sleep "$IDLE"
    # Sum by role: the app itself, WebKitWebProcess, WebKitNetworkProcess (and any other).
    local app_pss web_pss net_pss other_pss=0 rss=0 p comm
    app_pss=$(kb Pss "$pid"); web_pss=0; net_pss=0; rss=$(kb Rss "$pid")
    for p in $(descendants "$pid"); do
      comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
      case $comm in
        WebKitWebProces*) web_pss=$((web_pss + $(kb Pss "$p"))) ;;
        WebKitNetworkPr*) net_pss=$((net_pss + $(kb Pss "$p"))) ;;
        *) other_pss=$((other_pss + $(kb Pss "$p"))) ;;
      esac
      rss=$((rss + $(kb Rss "$p")))
    done
    local total=$((app_pss + web_pss + net_pss + other_pss))
    local launch_ms=$(((t1 - t0) / 1000000))
    echo "$launch_ms $app_pss $web_pss $net_pss $other_pss $total $rss" >>"$TMP/$name"
    printf '%-6s run %d: window %5d ms  PSS app %6s web %6s net %6s other %5s total %6s MB  RSS total %6s MB\n' \
      "$name" "$i" "$launch_ms" "$(mb "$app_pss")" "$(mb "$web_pss")" "$(mb "$net_pss")" \
      "$(mb "$other_pss")" "$(mb "$total")" "$(mb "$rss")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    sleep 1  # let the WebKit children exit before the next launch
  done
}
col() { awk -v c="$2" '{ print $c }' "$TMP/$1" | median; }

echo "# idle.sh: N=$N IDLE=${IDLE}s DISPLAY=$DISPLAY; $(nproc) cores; $(uname -r)"
echo "# load before: $(uptime)"
run ours Clinicall "$OURS"
run empty EmptyTauri "$EMPTY"
echo "# load after: $(uptime)"
echo
printf '%-14s %9s %9s %9s %9s %9s %9s %9s\n' median launch_ms app_PSS web_PSS net_PSS other_PSS total_PSS total_RSS
for name in ours empty; do
  printf '%-14s %9s %9s %9s %9s %9s %9s %9s\n' "$name" "$(col "$name" 1)" \
    "$(mb "$(col "$name" 2)")" "$(mb "$(col "$name" 3)")" "$(mb "$(col "$name" 4)")" \
    "$(mb "$(col "$name" 5)")" "$(mb "$(col "$name" 6)")" "$(mb "$(col "$name" 7)")"
done
diff() { awk -v a="$(col ours "$1")" -v b="$(col empty "$1")" -v s="$2" 'BEGIN { printf "%.1f", (a - b) / s }'; }
printf '%-14s %9s %9s %9s %9s %9s %9s %9s\n' "ours-empty" "$(diff 1 1)" \
  "$(diff 2 1024)" "$(diff 3 1024)" "$(diff 4 1024)" "$(diff 5 1024)" "$(diff 6 1024)" "$(diff 7 1024)"
echo "(PSS/RSS in MB = 1024 KiB, medians of $N runs; launch = exec to window mapped)"
