# Sourced by scripts/*: repo root, a .venv with the project installed, PATH pointing at it.
# Re-installs only when pyproject.toml changed (stamp in .venv), so repeat runs take < 1 s.

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
FIVECHAINS_ROOT=$(pwd)
export FIVECHAINS_ROOT

_fc_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(_fc_python) || { echo "Five Chains needs Python >= 3.11 (python3 on PATH is older or missing)" >&2; exit 1; }
  echo "setting up .venv with $($py --version)" >&2
  "$py" -m venv .venv || { echo "could not create .venv (is python3-venv installed?)" >&2; exit 1; }
fi

# libsodium (the OPRF's ristretto255, through pysodium) is a Debian package, not a wheel
if ! python3 -c 'import ctypes.util, sys; sys.exit(0 if ctypes.util.find_library("sodium") else 1)' 2>/dev/null; then
  echo "installing libsodium (apt-get) …" >&2
  { apt-get install -y -qq libsodium23 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libsodium23 >/dev/null; }; } ||
    { echo "could not install libsodium23 (apt-get install failed): the credit chain's OPRF needs it" >&2; exit 1; }
fi

_fc_stamp=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat .venv/.fivechains-stamp 2>/dev/null)" != "$_fc_stamp" ]; then
  echo "installing Five Chains and its dependencies into .venv …" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>/tmp/fivechains-pip.log; then
    grep -v '^WARNING: Location' /tmp/fivechains-pip.log >&2
    echo "pip install failed (log above)" >&2
    exit 1
  fi
  echo "$_fc_stamp" > .venv/.fivechains-stamp
fi

export PATH="$FIVECHAINS_ROOT/.venv/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
