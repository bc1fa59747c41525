#!/usr/bin/env bash
# Prepare an ONNX Runtime C development tree (ONNXRUNTIME_ROOT with include/ and lib/) for the solver examples.
#
# Library: the libonnxruntime.so inside the installed `onnxruntime` Python wheel (linked, not copied), so the C,
# C++ and Fortran examples run exactly the runtime that Python runs.
# Headers: the wheel ships none; they come from Debian's libonnxruntime-dev package (trixie, then sid), downloaded
# with apt through a private, temporary apt configuration (the machine's own sources are not touched) and unpacked
# with dpkg-deb. Headers of C API version <= the library's are compatible: the wrapper asks the library for the
# header's ORT_API_VERSION and fails with a clear message otherwise.
#
# Usage: export/c/fetch_onnxruntime.sh [DEST]      (default DEST: <repo>/.deps/onnxruntime)
# Prints the prepared root as the last line of stdout. Idempotent: a second run only checks a stamp file.
# Environment: ONNXRUNTIME_ROOT  use this existing tree instead (checked, then printed);
#              PYTHON            interpreter whose onnxruntime wheel provides the library
#                                (default: <repo>/.venv/bin/python, else python3);
#              ORT_DEB_SUITES    Debian suites to try for the headers (default: "trixie sid").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
say() { echo "fetch_onnxruntime: $*" >&2; }
die() { say "error: $*"; exit 1; }

has_tree() {  # $1 root: has the C API header and a linkable library
    { [ -f "$1/include/onnxruntime_c_api.h" ] || [ -f "$1/include/onnxruntime/onnxruntime_c_api.h" ]; } &&
        compgen -G "$1/lib*/libonnxruntime.so*" >/dev/null
}

if [ -n "${ONNXRUNTIME_ROOT:-}" ]; then
    has_tree "$ONNXRUNTIME_ROOT" ||
        die "ONNXRUNTIME_ROOT=$ONNXRUNTIME_ROOT lacks include/onnxruntime_c_api.h or lib/libonnxruntime.so"
    echo "$ONNXRUNTIME_ROOT"
    exit 0
fi

dest="${1:-$repo/.deps/onnxruntime}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x "$repo/.venv/bin/python" ]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi

# The wheel's directory, found without importing onnxruntime (fast).
capi="$("$python" -c 'import importlib.util as u, os, sys
s = u.find_spec("onnxruntime")
sys.exit("onnxruntime is not installed for " + sys.executable) if s is None else print(os.path.join(list(s.submodule_search_locations)[0], "capi"))')" ||
    die "cannot locate the onnxruntime wheel with $python (pip install onnxruntime, or set ONNXRUNTIME_ROOT)"
library="$(ls "$capi"/libonnxruntime.so.* 2>/dev/null | head -n 1)"
[ -n "$library" ] || die "no libonnxruntime.so.* in $capi"

stamp="$dest/.prepared"
if [ -f "$stamp" ] && [ "$(head -n 1 "$stamp")" = "$library" ] && has_tree "$dest"; then
    echo "$dest"
    exit 0
fi

cache="$repo/.deps/debs"
mkdir -p "$cache"
deb="$(ls "$cache"/libonnxruntime-dev_*.deb 2>/dev/null | tail -n 1 || true)"
if [ -z "$deb" ]; then
    command -v apt-get >/dev/null || die "apt-get not found: install ONNX Runtime's C headers yourself and set ONNXRUNTIME_ROOT"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || die "$keyring missing: apt-get install debian-archive-keyring (or set ONNXRUNTIME_ROOT)"
    apt_dir="$(mktemp -d)"
    trap 'rm -rf "$apt_dir"' EXIT
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" "$apt_dir/prefs"
    apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
              -o "Dir::Etc::PreferencesParts=$apt_dir/prefs" -o "Dir::State::Lists=$apt_dir/lists"
              -o "Dir::Cache=$apt_dir/cache" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -q)
    # One suite at a time, oldest first: a released suite keeps its version, so the headers stay reproducible.
    for suite in ${ORT_DEB_SUITES:-trixie sid}; do
        echo "deb [signed-by=$keyring] http://deb.debian.org/debian $suite main" >"$apt_dir/sources.list"
        say "downloading libonnxruntime-dev (C headers) from Debian $suite"
        if apt-get "${apt_opts[@]}" update >&2 && (cd "$cache" && apt-get "${apt_opts[@]}" download libonnxruntime-dev >&2)
        then break; fi
        say "no libonnxruntime-dev from Debian $suite"
    done
    compgen -G "$cache/libonnxruntime-dev_*.deb" >/dev/null ||
        die "could not download libonnxruntime-dev from Debian ${ORT_DEB_SUITES:-trixie sid} (offline?); set ONNXRUNTIME_ROOT"
    deb="$(ls "$cache"/libonnxruntime-dev_*.deb | tail -n 1)"
fi

unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked" "${apt_dir:-}"' EXIT
if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$unpacked"
else
    (cd "$unpacked" && ar x "$deb" && tar -xf data.tar.*)
fi
header="$(find "$unpacked" -name onnxruntime_c_api.h | head -n 1)"
[ -n "$header" ] || die "$deb holds no onnxruntime_c_api.h"

api="$(sed -nE 's/^#define ORT_API_VERSION ([0-9]+).*/\1/p' "$header")"
version="$(basename "$library" | sed -E 's/^libonnxruntime\.so\.//')"
minor="$(echo "$version" | cut -d. -f2)"
[ "$api" -le "$minor" ] || die "headers in $(basename "$deb") (ORT_API_VERSION $api) are newer than the library $version"

rm -rf "$dest"
mkdir -p "$dest/include" "$dest/lib/pkgconfig"
cp -R "$(dirname "$header")/." "$dest/include/"

soname="$(basename "$library" | sed -E 's/^(libonnxruntime\.so\.[0-9]+).*/\1/')"
ln -s "$library" "$dest/lib/$(basename "$library")"
ln -s "$(basename "$library")" "$dest/lib/$soname"
ln -s "$(basename "$library")" "$dest/lib/libonnxruntime.so"
for extra in "$capi"/libonnxruntime_providers_*.so; do
    [ -e "$extra" ] && ln -s "$extra" "$dest/lib/$(basename "$extra")"
done
cat >"$dest/lib/pkgconfig/libonnxruntime.pc" <<PC
prefix=$dest
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: onnxruntime
Description: ONNX Runtime (library from the Python wheel, C headers from Debian $(basename "$deb"))
Version: $version
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lonnxruntime
Cflags: -I\${includedir}
PC
printf '%s\n%s\n' "$library" "$(basename "$deb")" >"$stamp"
say "library $library, headers from $(basename "$deb") (ORT_API_VERSION $api)"
echo "$dest"
