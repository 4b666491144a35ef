#!/bin/sh
# Turns the captures in os-release/ and sw_vers/ into probe-output fixtures
# (probe/<name>-osr-probe.txt), emitting os-release lines exactly as
# probe.sh does (`osr=` + each line, a last line without newline included).
# Run from remote/testdata; then `go test ./remote -run Golden -update`.
set -eu
kernel_of() {
  case "$1" in freebsd*) echo "FreeBSD 14.0-CURRENT riscv" ;; *) echo "Linux 6.1.0-18-amd64 x86_64" ;; esac
}
init_of() {
  case "$1" in alpine) echo openrc ;; freebsd*) echo bsdrc ;; *) echo systemd ;; esac
}
for f in os-release/*; do
  n=${f#os-release/}
  set -- $(kernel_of "$n")
  {
    echo "fleetclaim-probe=1"
    echo "uid=0"; echo "user=root"
    echo "kernel=$1"; echo "kernel_release=$2"; echo "arch=$3"
    while IFS= read -r l || [ -n "$l" ]; do printf 'osr=%s\n' "$l"; done < "$f"
    echo "init=$(init_of "$n")"
    echo "end=1"
  } > "probe/$n-osr-probe.txt"
done
for f in sw_vers/*; do
  n=${f#sw_vers/}
  name= version=
  while IFS= read -r l || [ -n "$l" ]; do
    k=${l%%:*} v=${l#*:}
    v=$(printf '%s' "$v" | sed 's/^[[:space:]]*//')
    case "$k" in ProductName) name=$v ;; ProductVersion) version=$v ;; esac
  done < "$f"
  {
    echo "fleetclaim-probe=1"
    echo "uid=501"; echo "user=admin"
    echo "kernel=Darwin"; echo "kernel_release=22.3.0"; echo "arch=arm64"
    echo "macos_name=$name"; echo "macos_version=$version"
    echo "init=launchd"
    echo "end=1"
  } > "probe/$n-swvers-probe.txt"
done
