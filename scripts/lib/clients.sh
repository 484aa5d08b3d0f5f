# Sourced by scripts/test: Node.js and a JDK for the other-language client tests
# (tests/test_other_language_clients.py runs clients/node and clients/java against a real chain).
# Installed from Debian's packages where missing; in CI a failure is an error, elsewhere those tests skip.
ensure_client_runtimes() {
  local missing=()
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v java >/dev/null 2>&1 || missing+=(default-jdk-headless)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian's ${missing[*]} for the other-language client tests …" >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    return 0
  fi
  if [ -n "${CI:-}" ]; then
    echo "could not install ${missing[*]} (apt-get install failed)" >&2
    return 1
  fi
  echo "warning: ${missing[*]} not installed; the Node.js/Java client tests will be skipped" >&2
}
