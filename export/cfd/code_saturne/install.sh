#!/usr/bin/env bash
# Install Code_Saturne (Debian/Ubuntu package code-saturne, version 6.0 on Debian 12) and the compilers the case
# needs (C for the user routines and the wrapper, gfortran for Code_Saturne's Fortran user file, CMake).
# Does nothing when code_saturne is already on PATH. Needs root (or sudo) and apt-get.
set -euo pipefail
if command -v code_saturne >/dev/null 2>&1 && command -v cmake >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install.sh: no apt-get here; install Code_Saturne 6.0 (code_saturne on PATH) and CMake by hand" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install.sh: needs root or sudo for apt-get" >&2; exit 1; }
    sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    code-saturne cmake build-essential gfortran >/dev/null
command -v code_saturne
