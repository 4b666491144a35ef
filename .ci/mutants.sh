#!/bin/sh
# make mutants: plant one-line bugs where they matter (redaction, quoting,
# host keys, max-fail, the clone hold, the privilege choice, the token's
# transport, value validation), each alone in a fresh copy of the tree, and
# run the tests of the package that owns the behaviour. Every mutant must be
# caught: a test that passes without it fails with it.
#
#   .ci/mutants.sh            every mutant
#   .ci/mutants.sh ID...      only these
#   .ci/mutants.sh --list     the mutants, without running them
#   .ci/mutants.sh --check    only that each sed still changes one line
#
# MUTANTS_USER=nobody (when run as root): the tests run as that user, to
# show which mutants the tests catch without root. MUTANTS_TIMEOUT bounds
# one package run (default 10m).
#
# A mutant is one sed expression on one file that must change exactly one
# line. When the code moves and the expression no longer matches (or
# matches more than one line), the mutant is reported as an error, never as
# caught: update its expression so that the list stays true.
#
# Caught means that at least one test failing with the mutant passes
# without it (the tests of each package run once unmutated first; tests
# that fail then are listed and not counted). Exit status: 0 when every
# mutant was caught, 1 when one survived, 2 on an error.
# The sed expressions are single-quoted on purpose:
# shellcheck disable=SC2016
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
TIMEOUT=${MUTANTS_TIMEOUT:-10m}
RUNAS=${MUTANTS_USER:-}

# mutant ID PACKAGE FILE SED-EXPRESSION WHAT-IT-BREAKS
mutants() {
	# Redaction: inventory.Secret never prints or encodes its value.
	mutant secret-json ./inventory inventory/host.go \
		's/return \[\]byte(`"` + redacted + `"`), nil/return []byte(strconv.Quote(s.Reveal())), nil/' \
		'Secret.MarshalJSON emits the value'
	mutant secret-text ./inventory inventory/host.go \
		's/{ return \[\]byte(redacted), nil }/{ return []byte(s.Reveal()), nil }/' \
		'Secret.MarshalText (YAML, text encodings) emits the value'
	mutant secret-string ./inventory inventory/host.go \
		's/func (s Secret) String() string   { return redacted }/func (s Secret) String() string   { return s.Reveal() }/' \
		'Secret.String returns the value'
	mutant secret-gostring ./inventory inventory/host.go \
		's/func (s Secret) GoString() string { return redacted }/func (s Secret) GoString() string { return s.Reveal() }/' \
		'Secret.GoString returns the value'
	mutant secret-format ./inventory inventory/host.go \
		's/^\tfmt.Fprint(f, redacted)$/\tfmt.Fprint(f, s.Reveal())/' \
		'Secret.Format prints the value (%v, %s, %d...)'

	# Quoting: remote.Quote gives one shell word, exactly the bytes given.
	mutant quote-question ./remote remote/quote.go \
		"s/case c == '_' || c == '\\/'/case c == '?' || c == '_' || c == '\\/'/" \
		'? is taken as a safe character (a glob)'
	mutant quote-star ./remote remote/quote.go \
		"s/case c == '_' || c == '\\/'/case c == '*' || c == '_' || c == '\\/'/" \
		'* is taken as a safe character (a glob)'
	mutant quote-bracket ./remote remote/quote.go \
		"s/case c == '_' || c == '\\/'/case c == '[' || c == ']' || c == '_' || c == '\\/'/" \
		'[ and ] are taken as safe characters (a glob)'
	mutant quote-tilde ./remote remote/quote.go \
		"s/case c == '_' || c == '\\/'/case c == '~' || c == '_' || c == '\\/'/" \
		'~ is taken as a safe character (home expansion)'
	mutant quote-empty ./remote remote/quote.go \
		's/if s != "" \&\& isSafeWord(s) {/if isSafeWord(s) {/' \
		'Quote("") is nothing instead of the word '"''"
	mutant quote-single ./remote remote/quote.go \
		"s/b.WriteString(\`'\\\\''\`)/b.WriteString(\`\\\\'\`)/" \
		'a single quote inside the word is not closed and reopened'
	mutant quote-nul ./remote remote/quote.go \
		's/if strings.IndexByte(s, 0) >= 0 {/if false \&\& strings.IndexByte(s, 0) >= 0 {/' \
		'a NUL byte is accepted (the shell cuts the word there)'

	# Host keys: strict refuses unknown and changed keys; accept-new
	# records unknown keys only.
	# A key that changed is refused twice under accept-new (check, then
	# recheck under the lock): one line alone cannot break that, so the
	# mutants break each guard where it is the only one.
	mutant hostkey-changed-as-unknown ./remote remote/hostkeys.go \
		'/^func (s \*hostKeyStore) check(/,/^}/s/if errors.As(err, \&ke) \&\& len(ke.Want) > 0 {/if errors.As(err, \&ke) \&\& len(ke.Want) > 0 \&\& policy == "accept-new" {/' \
		'under strict a changed key is reported as unknown (whose remedy is to add it)'
	mutant hostkey-no-recheck ./remote remote/hostkeys.go \
		's/if err := s.recheck(hostname, remote, key); err != nil || s.added\[norm\] != nil {/if err := error(nil); err != nil || s.added[norm] != nil {/' \
		'accept-new records a key without reading again what other runs recorded'
	mutant hostkey-strict-unknown ./remote remote/hostkeys.go \
		'/^func (s \*hostKeyStore) check(/,/^}/s/if policy == "accept-new" {/if policy != "off" {/' \
		'strict accepts (and records) an unknown host key'
	mutant hostkey-off ./remote remote/hostkeys.go \
		'/^func (s \*hostKeyStore) check(/,/^}/s/if policy == "off" {/if policy != "strict" {/' \
		'accept-new checks nothing'
	mutant hostkey-run-changed ./remote remote/hostkeys.go \
		'/prev, seen := s.added\[norm\]/,/CatHostKeyChanged/s/if string(prev.Marshal()) == string(key.Marshal()) {/if true {/' \
		'a key accepted earlier in the run may change'
	mutant hostkey-revoked ./remote remote/hostkeys.go \
		'/^func (s \*hostKeyStore) check(/,/^}/s/if errors.As(err, \&revoked) {/if false \&\& errors.As(err, \&revoked) {/' \
		'a @revoked key is reported as merely unknown'
	mutant hostkey-recheck-changed ./remote remote/hostkeys.go \
		'/^func (s \*hostKeyStore) recheck(/,/^}/s/if errors.As(err, \&ke) \&\& len(ke.Want) > 0 {/if false {/' \
		'accept-new records a key although another run recorded a different one meanwhile'

	# --max-fail-percentage: stop once more than the percentage failed.
	mutant maxfail-boundary ./claim/rollout claim/rollout/rollout.go \
		's/float64(t.failed)\*100 > t.f.MaxFailPercent/float64(t.failed)*100 >= t.f.MaxFailPercent/' \
		'exactly the percentage stops the run (> taken as >=)'
	mutant maxfail-zero ./claim/rollout claim/rollout/rollout.go \
		's/if t.f.MaxFailPercent >= 0 \&\& /if t.f.MaxFailPercent > 0 \&\& /' \
		'--max-fail-percentage 0 (a failed canary) stops nothing'
	mutant maxfail-uncounted ./claim/rollout claim/rollout/rollout.go \
		's/^\t\tt.failed++$/\t\tt.failed += 0/' \
		'failures are not counted'
	mutant host-timeout ./claim/rollout claim/rollout/rollout.go \
		'/^func (f \*Fleet\[R\]) runHost/,/^}/s/ctx, cancel = context.WithTimeout(ctx, f.HostTimeout)/ctx, cancel = context.WithCancel(ctx)/' \
		'--timeout does not end a host'

	# The clone hold: a machine GUID seen on another host of the run.
	mutant clone-claim-only ./claim claim/installed.go \
		'/^func (b installed) clone(/,/^}/s/if other == "" {/if other == "" || r.dry || r.mode == ModeReconcile {/' \
		'the duplicate-GUID hold only in claim mode (not plan, reconcile)'
	mutant clone-new-identity ./claim claim/installed.go \
		's/if !r.c.opts.NewIdentity {/if true {/' \
		'--new-identity does not reclaim the clone'
	mutant clone-same-host ./claim claim/guid.go \
		's/if h, ok := g.first\[guid\]; ok \&\& h != host {/if h, ok := g.first[guid]; ok {/' \
		'a retry of a host is its own duplicate'

	# The privilege choice.
	mutant privilege-none ./claim claim/hostrun.go \
		's/if f.Root() || (f.User != "" \&\& f.User == in.RunAsUser) {/if f.Root() || (f.User != "" \&\& f.User == in.RunAsUser) || r.h.Become == "none" {/' \
		'without become, a user neither root nor the run-as user claims as itself'
	mutant privilege-never ./claim claim/hostrun.go \
		's/if r.become != nil \&\& r.becomeErr == nil {/if false \&\& r.become != nil \&\& r.becomeErr == nil {/' \
		'become (sudo, doas) is never used for the claim'
	mutant privilege-refusal ./claim claim/hostrun.go \
		'/^func (r \*hostRun) privilege/,/^}/s/if r.becomeErr != nil {/if false {/' \
		'sudo refusing (a wrong password) is reported as a missing become'
	mutant privilege-become-user ./claim claim/hostrun.go \
		's/if u := r.h.BecomeUser; u != "" \&\& u != "root" \&\& u != in.RunAsUser {/if u := r.h.BecomeUser; false \&\& u != "" {/' \
		'a become_user neither root nor the run-as user is used'
	mutant privilege-doas ./claim claim/claimer.go \
		's/if h.Become != "sudo" \&\& h.Become != "doas" {/if h.Become != "sudo" {/' \
		'become: doas is ignored'
	mutant privilege-password ./claim claim/claimer.go \
		's/b.Password = \[\]byte(pw.Reveal())/_ = pw/' \
		'the sudo password is not used'

	# The token's transport: on stdin, never on a command line; its file
	# removed.
	mutant token-argv ./claim claim/claimscript.go \
		's/^\treturn script, append(args, claimScriptArgs(h, in, false, newID)...), nil$/\treturn script, append(append(args, claimScriptArgs(h, in, false, newID)...), "-token="+token), nil/' \
		'the token among netdata-claim.sh'"'"'s arguments, on the command line'
	mutant token-file-left ./claim claim/claimscript.sh \
		's/^rm -f token \&\& \[ ! -e token \] \&\& echo token-removed=1$/echo token-removed=1/' \
		'cloud.d/token is left behind (and said removed)'
	mutant script-argv ./remote remote/shell.go \
		's/^\treturn r.Run(ctx, cmd, strings.NewReader(script))$/\treturn r.Run(ctx, strings.Replace(cmd, "sh -s", "sh -c "+(\&Quoter{}).Q(script)+" sh", 1), nil)/' \
		'a script (with the token in it) on the command line'
	mutant sudo-password-argv ./remote remote/privilege.go \
		's/b.WriteString("sudo -S -p " + q.Q(p.prompt))/b.WriteString("echo " + q.Q(string(p.b.Password)) + " | sudo -S -p " + q.Q(p.prompt))/' \
		'the sudo password on a command line'

	# Values reaching a host: checked (url, proxy), no line break into
	# claim.conf.
	mutant value-line-break ./claim claim/claimer.go \
		's/if strings.ContainsAny(v, "\\r\\n\\x00") {/if strings.ContainsAny(v, "\\x00") {/' \
		'a line break in a value (proxy, url) writes claim.conf lines of its own'
	mutant value-carriage-return ./claim claim/claimer.go \
		's/if strings.ContainsAny(v, "\\r\\n\\x00") {/if strings.ContainsAny(v, "\\n\\x00") {/' \
		'a carriage return in a value reaches claim.conf'
	mutant url-path ./inventory inventory/shellsafe.go \
		"s/^\t\tcase c == '\\/' || isNameByte(c):$/\t\tcase c != '?' \&\& c != '#':/" \
		'a Cloud url path may hold characters a shell interprets'
	mutant host-name-byte ./inventory inventory/shellsafe.go \
		"s/|| c == '-' || c == '_' || c == '.'$/|| c == '-' || c == '_' || c == '.' || c == '\$'/" \
		'host names, url paths, proxy credentials and node names may hold $'
	mutant proxy-credentials ./inventory inventory/shellsafe.go \
		's/^\t\t\tcase isNameByte(c):$/\t\t\tcase c != 0:/' \
		'proxy user:password may hold characters a shell interprets'
	mutant proxy-string ./inventory inventory/proxy.go \
		's/^func (p Proxy) String() string { return p.shown }$/func (p Proxy) String() string { return p.Reveal() }/' \
		'a proxy prints its user:password'
	mutant proxy-format ./inventory inventory/proxy.go \
		's/^\tfmt.Fprint(f, p.shown)$/\tfmt.Fprint(f, p.Reveal())/' \
		'a proxy prints its user:password with the verbs that do not use String (%d, %x)'
	mutant proxy-json ./inventory inventory/proxy.go \
		's/{ return json.Marshal(p.String()) }/{ return json.Marshal(p.Reveal()) }/' \
		'a proxy encodes its user:password in JSON'

	# Root and the agent's directories: renames into cloud.d from inside it.
	mutant rename-through-path ./claim claim/lib.sh \
		's/^  mv -f "$1" "$pn" || fail "$4"$/  mv -f "$1" "$2" || fail "$4"/' \
		'root renames into cloud.d through its path (a cloud.d swapped for a link is followed)'
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fleetclaim-mutants.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 2' INT TERM
chmod 755 "$WORK"

# as: the command runs as RUNAS when set and we are root.
as() {
	if [ -n "$RUNAS" ] && [ "$(id -u)" = 0 ]; then
		setpriv --reuid="$RUNAS" --regid="$(id -g "$RUNAS")" --clear-groups \
			env HOME="$WORK/home" TMPDIR="$WORK/tmp" "$@"
	else
		"$@"
	fi
}
if [ -n "$RUNAS" ] && [ "$(id -u)" = 0 ]; then
	mkdir -p "$WORK/home" "$WORK/tmp"
	chown "$RUNAS" "$WORK/home" "$WORK/tmp"
fi

# fresh DIR: a copy of the tree as it is (tracked and new files).
fresh() {
	mkdir -p "$1"
	git ls-files -co --exclude-standard -z | xargs -0 tar -cf - | tar -xf - -C "$1"
}

# runpkg TREE PKG LOG: builds PKG's tests in TREE and runs them in the
# package's directory; prints the names of the failing tests (one a line)
# into LOG.fail; returns 3 when the tests do not build.
runpkg() {
	bin="$WORK/pkg.test"
	rm -f "$bin"
	if ! (cd "$1" && $GO test -c -o "$bin" "$2") >"$3" 2>&1; then
		return 3
	fi
	chmod 755 "$bin"
	rc=0
	(cd "$1/$2" && as "$bin" -test.count=1 -test.v -test.timeout="$TIMEOUT") >"$3" 2>&1 || rc=$?
	sed -n 's/^ *--- FAIL: \([^ ]*\) .*/\1/p' "$3" | sort -u >"$3.fail"
	if [ "$rc" != 0 ] && ! [ -s "$3.fail" ]; then
		# A panic or the timeout: no test line says so.
		grep -m1 -e '^panic: ' -e 'test timed out' "$3" | sed 's/^/(package) /' >"$3.fail" || echo "(package) exit $rc" >"$3.fail"
	fi
	return 0
}

# baseline PKG: the package's failing tests without a mutant, once.
baseline() {
	key=$(printf '%s' "$1" | tr '/.' '__')
	if [ -f "$WORK/base-$key.fail" ]; then
		return 0
	fi
	fresh "$WORK/tree-base-$key"
	if ! runpkg "$WORK/tree-base-$key" "$1" "$WORK/base-$key"; then
		echo "error: the tests of $1 do not build without a mutant:" >&2
		cat "$WORK/base-$key" >&2
		exit 2
	fi
	if [ -s "$WORK/base-$key.fail" ]; then
		echo "note: without a mutant these tests of $1 fail${RUNAS:+ as $RUNAS}, and are not counted:" \
			"$(tr '\n' ' ' <"$WORK/base-$key.fail")"
	fi
	rm -rf "$WORK/tree-base-$key"
}

LIST=0 CHECK=0
case "${1:-}" in
--list) LIST=1; shift ;;
--check) CHECK=1; shift ;;
esac
WANT=" $* "
total=0 caught=0 survived=0 errors=0
SURVIVED='' ERRORS='' SEEN=''

mutant() {
	id=$1 pkg=$2 file=$3 expr=$4 what=$5
	if [ "$WANT" != "  " ] && [ "${WANT#* "$id" }" = "$WANT" ]; then
		return 0
	fi
	total=$((total + 1)) SEEN="$SEEN $id "
	if [ "$LIST" = 1 ]; then
		printf '%-28s %-12s %s\n' "$id" "$pkg" "$what"
		return 0
	fi
	tree="$WORK/m-$id"
	fresh "$tree"
	if ! sed -e "$expr" "$file" >"$tree/$file.mutant"; then
		errors=$((errors + 1)) ERRORS="$ERRORS $id"
		printf 'ERROR     %-28s the sed expression is invalid\n' "$id"
		rm -rf "$tree"
		return 0
	fi
	changed=$(diff "$file" "$tree/$file.mutant" | grep -c '^[<>]' || true)
	dels=$(diff "$file" "$tree/$file.mutant" | grep -c '^<' || true)
	if [ "$changed" = 0 ] || [ "$dels" -gt 1 ] || [ "$changed" -gt 2 ]; then
		errors=$((errors + 1)) ERRORS="$ERRORS $id"
		if [ "$changed" = 0 ]; then
			printf 'ERROR     %-28s the pattern no longer matches %s: update it\n' "$id" "$file"
		else
			printf 'ERROR     %-28s the pattern changes %s lines of %s, not one: update it\n' "$id" "$dels" "$file"
		fi
		rm -rf "$tree"
		return 0
	fi
	if [ "$CHECK" = 1 ]; then
		caught=$((caught + 1))
		printf 'applies   %-28s %s: %s\n' "$id" "$file" "$(diff "$file" "$tree/$file.mutant" | sed -n 's/^> *//p')"
		rm -rf "$tree"
		return 0
	fi
	mv "$tree/$file.mutant" "$tree/$file"
	baseline "$pkg"
	key=$(printf '%s' "$pkg" | tr '/.' '__')
	log="$WORK/log-$id"
	if ! runpkg "$tree" "$pkg" "$log"; then
		errors=$((errors + 1)) ERRORS="$ERRORS $id"
		printf 'ERROR     %-28s the mutant does not build (%s)\n' "$id" "$(grep -m1 '\.go:[0-9]' "$log" || true)"
		rm -rf "$tree"
		return 0
	fi
	comm -13 "$WORK/base-$key.fail" "$log.fail" >"$log.new"
	# Name the top-level tests that caught it (their subtests when none).
	new=$( (grep -v / "$log.new" || cat "$log.new") | head -4 | tr '\n' ' ')
	if [ -n "$new" ]; then
		caught=$((caught + 1))
		printf 'caught    %-28s %-12s %s — by %s\n' "$id" "$pkg" "$what" "$new"
	else
		survived=$((survived + 1)) SURVIVED="$SURVIVED $id"
		printf 'SURVIVED  %-28s %-12s %s\n' "$id" "$pkg" "$what"
		printf '          in %s: %s\n' "$file" "$(diff "$file" "$tree/$file" | sed -n 's/^> *//p')"
	fi
	rm -rf "$tree"
}

mutants
for want in "$@"; do
	case "$SEEN" in
	*" $want "*) ;;
	*) echo "error: no mutant is named $want (.ci/mutants.sh --list)" >&2; errors=$((errors + 1)) ERRORS="$ERRORS $want" ;;
	esac
done
if [ "$LIST" = 1 ]; then
	echo "$total mutants"
	exit 0
fi
if [ "$CHECK" = 1 ]; then
	echo "$total mutants: $caught apply, $errors errors"
else
	echo "$total mutants${RUNAS:+ (tests run as $RUNAS)}: $caught caught, $survived survived, $errors errors"
fi
[ -z "$SURVIVED" ] || echo "survived:$SURVIVED"
[ -z "$ERRORS" ] || echo "errors:$ERRORS"
if [ "$errors" -gt 0 ]; then
	exit 2
fi
[ "$survived" = 0 ]
