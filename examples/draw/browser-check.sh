#!/usr/bin/env bash
# The drawing page in a real browser: starts the `draw` server, loads the page in headless
# Chromium in demo mode (test image INDEX redrawn on the canvas by pointer events, as a hand would
# draw it), checks the digit the page shows, and saves a screenshot.
#
#   examples/draw/browser-check.sh [INDEX EXPECTED_DIGIT] [SCREENSHOT]
#
# Defaults: test image 0, a 7; docs/draw.png. Installs Debian's chromium when it is missing
# (apt-get, as root). PORT sets the server's port (default 18080).
set -euo pipefail
cd "$(dirname "$0")/../.."
index=${1:-0}
expected=${2:-7}
screenshot=${3:-docs/draw.png}
port=${PORT:-18080}

if ! command -v chromium >/dev/null; then
    echo "chromium is missing: installing Debian's package" >&2
    apt-get install -y -q chromium >/dev/null
fi
cargo build --release --example draw
target/release/examples/draw --port "$port" &
server=$!
trap 'kill $server 2>/dev/null' EXIT
# Wait for the server to listen (bash's /dev/tcp; no curl needed).
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

url="http://127.0.0.1:$port/?demo=$index"
browser=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=15000)
shown=$("${browser[@]}" --dump-dom "$url" 2>/dev/null | grep -o 'data-digit="[0-9]"' | grep -o '[0-9]' || true)
"${browser[@]}" --window-size=1180,500 --screenshot="$screenshot" "$url" 2>/dev/null
if [ "$shown" != "$expected" ]; then
    echo "FAIL: test image $index drawn on the page read as '${shown:-nothing}', expected $expected" >&2
    exit 1
fi
echo "ok: test image $index drawn on the page reads as $shown; screenshot in $screenshot"
