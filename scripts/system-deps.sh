#!/usr/bin/env bash
# System packages some tests need: a real PostgreSQL server (store tests start a throwaway cluster with
# initdb/pg_ctl) and Debian's chromium (the dashboard browser test; Playwright drives it, no browser
# download). Installs them with apt-get when missing and possible; otherwise says which tests will skip.
set -euo pipefail
have_pg() { command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
if have_pg && command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else
    echo "note: PostgreSQL/Chromium missing and no root: their tests will be skipped (apt-get install postgresql chromium)" >&2
    exit 0
  fi
fi
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql chromium
else
  echo "note: no apt-get: PostgreSQL/Chromium tests will be skipped" >&2
fi
