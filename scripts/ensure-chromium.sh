#!/usr/bin/env bash
# Make Debian's chromium and chromedriver (and a CJK font, for a readable screenshot) available for the browser
# tests of the applicant's page. Installs them with apt-get when missing (root only). Never fails: when that is
# impossible here, the browser tests are reported as skipped and say why.
set -uo pipefail
log() { echo "ensure-chromium: $*" >&2; }
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing chromium, chromium-driver, fonts-wqy-microhei (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
     chromium chromium-driver fonts-wqy-microhei >/dev/null) >&2 || log "apt-get install failed: browser tests skip"
else
  log "chromium not installed and cannot install it here: browser tests skip"
fi
exit 0
