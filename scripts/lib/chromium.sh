# Sourced by scripts/test: Debian's chromium for the browser tests (Playwright drives /usr/bin/chromium;
# `playwright install` cannot download browsers here).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  echo "installing Debian's chromium for the browser tests …" >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
    return 0
  fi
  if [ -n "${CI:-}" ]; then
    echo "could not install chromium (apt-get install chromium failed)" >&2
    return 1
  fi
  echo "warning: chromium is not installed; the browser test will be skipped" >&2
}
