#!/usr/bin/env bash
# One entry point for setting up lync-restore and running its main jobs.
#
#   bash bootstrap.sh          set up, then run a drill against the bundled lab
#   bash bootstrap.sh test     set up, then run the whole test suite (what CI runs)
#   bash bootstrap.sh bench    set up, then print the benchmark table
#   bash bootstrap.sh setup    set up only
#
# Set-up is idempotent: system packages are installed only when missing, the virtual
# environment is reused, and the package is reinstalled only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=${LYNC_RESTORE_VENV:-.venv}
PY=${PYTHON:-python3}
# Debian packages: unixODBC driver manager, the FreeTDS ODBC driver, tmux (terminal tests),
# MIT Kerberos: the lab's KDC (krb5-kdc, krb5-admin-server), kinit (krb5-user) and the headers
# python-gssapi and krb5 build against (libkrb5-dev, with gcc).
APT_PACKAGES=(unixodbc tdsodbc tmux krb5-kdc krb5-admin-server krb5-user libkrb5-dev gcc)

say() { printf 'bootstrap: %s\n' "$*" >&2; }

missing_packages() {
    local p missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

install_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        say "not a Debian-like system: install unixODBC, the FreeTDS ODBC driver, tmux and MIT Kerberos (KDC, client, headers) yourself"
        return 0
    fi
    local missing
    missing=$(missing_packages)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        say "installing system packages: $missing"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        say "missing system packages: $missing"
        say "run as root:  apt-get update && apt-get install -y $missing"
        exit 3
    fi
}

make_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtual environment $VENV"
        if ! "$PY" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
                "$PY" -m venv "$VENV"
            else
                say "python3 -m venv failed: install the python3-venv package"; exit 3
            fi
        fi
    fi
    local stamp="$VENV/.lync-restore-installed" want
    want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        say "installing lync-restore and its test tools into $VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
        echo "$want" > "$stamp"
    fi
}

run_tests() {
    local bin="$VENV/bin"
    say "ruff";          "$bin/ruff" check wizard screens lab tests
    say "mypy (strict)"; "$bin/mypy"
    say "import-linter"; "$bin/lint-imports" --no-cache
    say "pytest"
    set +e
    "$bin/python" -m pytest "$@"
    local rc=$?
    set -e
    if [ "$rc" = 5 ]; then
        say "pytest collected no tests: that is a failure here"; exit 1
    fi
    return "$rc"
}

cmd=${1:-drill}
[ $# -gt 0 ] && shift
install_system_packages
make_venv
case "$cmd" in
    setup) say "ready: $VENV/bin/lync-restore" ;;
    test)  run_tests "$@" ;;
    bench) exec "$VENV/bin/lync-restore" bench "$@" ;;
    drill) exec "$VENV/bin/lync-restore" drill "$@" ;;
    *) say "unknown command '$cmd' (drill, test, bench, setup)"; exit 2 ;;
esac
