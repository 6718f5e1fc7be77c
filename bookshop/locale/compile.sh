#!/usr/bin/env bash
# Compile the Japanese catalogue (django.po -> django.mo; the .mo is committed).
set -euo pipefail
cd "$(dirname "$0")/ja/LC_MESSAGES"
msgfmt --check-format -o django.mo.tmp django.po && mv django.mo.tmp django.mo
