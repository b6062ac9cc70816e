#!/usr/bin/env bash
# Idempotent set-up on Debian/Ubuntu: system packages when missing, a virtual environment in
# .venv, and the package itself. Fast when everything is already there.
#   scripts/setup.sh            runtime
#   scripts/setup.sh test       runtime + test tools (Chromium, pytest...)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)

apt_missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_missing+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || apt_missing+=(postgresql-postgis)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || apt_missing+=(python3-venv)
command -v npm >/dev/null 2>&1 || apt_missing+=(nodejs npm)
# ffmpeg/ffprobe: a report's video is checked, stripped of its metadata and given a poster
command -v ffprobe >/dev/null 2>&1 || apt_missing+=(ffmpeg)
if [ "$mode" = test ]; then
  command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium)
  # CJK glyphs for readable screenshots of Chinese pages
  ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || apt_missing+=(fonts-noto-cjk)
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "installing system packages: ${apt_missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${apt_missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
extras=""
[ "$mode" = test ] && extras="[test,bench]"
stamp=".venv/.geo-patrol-installed-$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)${extras}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
  touch "$stamp"
fi

# Leaflet and its plugins, from the npm registry, served by the app and inlined in briefings
npm_stamp="web/node_modules/.geo-patrol-$(sha256sum web/package-lock.json | cut -c1-16)"
if [ ! -f "$npm_stamp" ]; then
  npm ci --prefix web --no-audit --no-fund --silent
  touch "$npm_stamp"
fi
