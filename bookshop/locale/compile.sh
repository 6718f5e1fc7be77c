#!/usr/bin/env bash
# Compile the Japanese catalogue: django.po plus any work-in-progress parts/*.po.
set -euo pipefail
cd "$(dirname "$0")/ja/LC_MESSAGES"
shopt -s nullglob
parts=(parts/*.po)
tmp=$(mktemp)
if ((${#parts[@]})); then
  msgcat --use-first -o "$tmp" django.po "${parts[@]}"
else
  cp django.po "$tmp"
fi
msgfmt --check-format -o django.mo.tmp "$tmp" && mv django.mo.tmp django.mo
rm -f "$tmp"
