#!/usr/bin/env bash
# Render an `srgan report` page in headless Chromium (Debian package `chromium`) and save a screenshot, to check
# that the self-contained page really displays with no network and no server.
#
# Usage: scripts/check_report.sh REPORT.html [OUT.png] [WIDTH,HEIGHT]   (defaults: REPORT.png, 1280,2000)
# Exit status: 0 when the screenshot was written, is not one flat colour and the page logged no script error or
# blocked fetch; 1 otherwise.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: $0 REPORT.html [OUT.png] [WIDTH,HEIGHT]" >&2
    exit 2
fi
report=$(realpath "$1")
out=$(realpath -m "${2:-${1%.html}.png}")
size=${3:-1280,2000}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "$0: no chromium found (Debian: apt-get install chromium)" >&2
    exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
# Console messages go to stderr: a script error ("Uncaught") or a fetch blocked by the page's Content-Security-Policy
# (which forbids any network access) fails the check.
log=$(timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 --hide-scrollbars --screenshot="$out" --window-size="$size" \
    "file://$report" 2>&1 >/dev/null || true)
if [ ! -s "$out" ]; then
    echo "$0: chromium wrote no screenshot for $report" >&2
    exit 1
fi
if errors=$(grep -E "CONSOLE.*(Uncaught|Refused to|violates the following Content Security Policy)" <<<"$log"); then
    echo "$0: the page logged errors:" >&2
    echo "$errors" >&2
    exit 1
fi
# A page that failed to render (blank, or only the background) is one flat colour.
py=${PYTHON:-$(dirname "$0")/../.venv/bin/python}
[ -x "$py" ] || py=python3
"$py" - "$out" <<'EOF'
import sys
from PIL import Image
with Image.open(sys.argv[1]) as im:
    lo, hi = zip(*im.convert("RGB").getextrema())
if max(hi) - min(lo) < 32:
    sys.exit(f"{sys.argv[1]}: the screenshot is blank")
EOF
echo "$out"
