# Helpers sourced by the project's scripts. A bare machine has cargo and python3 only:
# everything else is installed here, from PyPI or Debian, on first need.

# pip puts console scripts here; put them first so a fresh install is found at once
# (no pyenv shim rehash needed).
PY_SCRIPTS=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH="$PY_SCRIPTS:$PATH"

# need_pip COMMAND PIP_SPEC...: installs the PyPI packages unless COMMAND is on PATH.
need_pip() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo ">> installing ${*:2} from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${@:2}"
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
