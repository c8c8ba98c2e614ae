#!/usr/bin/env bash
# Installs the Debian packages fanpin needs beyond Python: chromium (browser tests and
# screenshots), Noto CJK fonts (Chinese text in charts and the monthly brief), and
# LibreOffice Writer + poppler (the brief's test turns the .docx into a PDF and a PNG).
# Quiet when all is present.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
installed fonts-noto-cjk || fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
installed fonts-noto-color-emoji || fc-list 2>/dev/null | grep -qi "Noto Color Emoji" || need+=(fonts-noto-color-emoji)
command -v libreoffice >/dev/null 2>&1 || command -v soffice >/dev/null 2>&1 || need+=(libreoffice-writer-nogui)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "fanpin: please install: ${need[*]} (browser tests will be skipped)" >&2
  exit 0
fi
echo "fanpin: installing ${need[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
