#!/bin/sh
# Captures what Debian's real sudo (and opendoas) print to a user who is
# refused, for the lab's sudo/doas stand-ins (lab/become.go reads
# sudo-1.9.13p3.txt). Run as root on a scratch machine:
#   sh lab/testdata/sudo/capture.sh > lab/testdata/sudo/sudo-1.9.13p3.txt
# It creates the user fccapture (password fc-capture-pw) and the sudoers
# file /etc/sudoers.d/fleetclaim-capture, and removes both at the end.
set -u
u=fccapture pw=fc-capture-pw prompt='[fleetclaim-sudo-0123456789abcdef] '
host=$(hostname)
useradd -M -s /bin/sh "$u" 2>/dev/null
printf '%s:%s\n' "$u" "$pw" | chpasswd
rules=/etc/sudoers.d/fleetclaim-capture
trap 'rm -f "$rules"; userdel "$u" 2>/dev/null' EXIT
rule() { printf '%s\n' "$@" > "$rules"; chmod 0440 "$rules"; }
# case NAME: run one sudo (or doas) line as the user, stdin from $in.
case_() {
  name=$1; shift
  out=$(printf '%s' "$in" | runuser -u "$u" -- "$@" 2>&1); rc=$?
  printf '## %s\n# command: %s\n# rc: %s\n' "$name" "$*" "$rc"
  printf '%s\n' "$out" | sed "s/$host/HOST/g; s/^/> /"
  printf '\n'
}
echo "# $(sudo -V | head -1); $(dpkg-query -W -f='${Package} ${Version}; ' sudo opendoas 2>/dev/null | tr '\n' ' ')"
echo "# captured $(date -u +%Y-%m-%dT%H:%MZ) by lab/testdata/sudo/capture.sh; host name replaced by HOST, user $u"
echo
rule "# no rule for $u"
in="" case_ no-rights-n sudo -n true
in="$pw
" case_ no-rights-password sudo -S -p "$prompt" true
rule "$u ALL=(ALL:ALL) ALL" "Defaults:$u passwd_tries=3, !lecture"
in="" case_ password-needed-n sudo -n true
in="wrong
wrong
wrong
" case_ wrong-password sudo -S -p "$prompt" true
in="$pw
" case_ right-password sudo -S -p "$prompt" true
in="" case_ no-password-provided sudo -S -p "$prompt" true
rule "$u ALL=(ALL:ALL) NOPASSWD: ALL" "Defaults:$u requiretty"
in="" case_ requiretty-n sudo -n true
rule "$u ALL=(root) NOPASSWD: ALL"
in="" case_ runas-not-allowed-n sudo -n -u nobody true
in="$pw
" case_ runas-not-allowed-password sudo -S -p "$prompt" -u nobody true
in="" case_ command-not-found sudo -n /nonexistent/fleetclaim
rm -f "$rules"
in="" case_ doas-no-config doas -n true
