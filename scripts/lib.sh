# Helpers sourced by the project's scripts. A bare machine has cargo and python3 only:
# everything else is installed here, from PyPI or Debian, on first need.

# pip puts console scripts here; put them first so a fresh install is found at once
# (no pyenv shim rehash needed).
PY_SCRIPTS=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH="$PY_SCRIPTS:$PATH"

# The pinned versions of what the scripts install.
source "$(dirname "${BASH_SOURCE[0]}")/tool-versions"

# need_pip NAME==VERSION...: installs each pinned PyPI package unless exactly that version
# is installed already (a NAME[extra]==VERSION spec checks NAME).
need_pip() {
    local missing
    missing=$(python3 - "$@" <<'PY'
import importlib.metadata as metadata
import sys
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    try:
        have = metadata.version(name.split("[")[0])
    except metadata.PackageNotFoundError:
        have = None
    if have != want:
        print(spec)
PY
)
    [ -z "$missing" ] && return 0
    echo ">> installing" $missing "from PyPI" >&2
    # shellcheck disable=SC2086 # one spec per word
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore $missing
}

# need_apt COMMAND DEB_PACKAGE...: installs the Debian packages unless COMMAND is on PATH.
need_apt() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo ">> installing ${*:2} from Debian" >&2
    if [ ! -f /tmp/.lambda-reuse-apt-updated ]; then
        apt-get update -qq && touch /tmp/.lambda-reuse-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" >/dev/null
}

# zig (from cargo-lambda's ziglang dependency) caches under ~/.cache; keep it there
# explicitly so builds behave the same under any HOME/XDG setup.
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}"
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$XDG_CACHE_HOME/zig}"
