package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/claim/cloud"
	"github.com/fleetclaim/fleetclaim/claim/rollout"
	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// selectFlags choose the inventory and the hosts; every host command has them.
type selectFlags struct {
	inventory   string // the sources, comma-joined, once loaded
	inventories stringList
	vault       vaultFlags
	scriptLimit time.Duration
	format      string
	sshConfig   string
	limit       string
	shard       string
	sets        stringList
}

func (f *selectFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.inventories, "i", "inventory source, repeatable, merged in order: a file (native YAML, Ansible YAML/INI/JSON, pssh hosts), an executable inventory script, a directory, or h1,h2,")
	fs.Var(&f.inventories, "inventory", "inventory source (same as -i)")
	fs.StringVar(&f.format, "inventory-format", "", "force the format of every inventory file: native, ansible, ansible-json, script or pssh")
	fs.DurationVar(&f.scriptLimit, "inventory-timeout", inventory.DefaultScriptTimeout, "limit for each run of an inventory script")
	f.vault.register(fs)
	fs.StringVar(&f.sshConfig, "F", "", "ssh_config file (default ~/.ssh/config; 'none' to ignore it)")
	fs.StringVar(&f.limit, "limit", "", "select hosts: names, globs, groups, a:b, a:&b, a:!b, @file")
	fs.StringVar(&f.shard, "shard", "", "K/N: only the K-th of N stable shards of the selection (1 ≤ K ≤ N)")
	fs.Var(&f.sets, "set", "override a setting for every host, key=value (repeatable)")
}

// load reads the inventory and selects the hosts, printing every problem.
func (f *selectFlags) load(ctx context.Context, cmd string, stderr io.Writer) (*inventory.Inventory, []*inventory.Host, bool) {
	inv, sel, ok := f.choose(ctx, cmd, stderr)
	if !ok {
		return nil, nil, false
	}
	hosts := make([]*inventory.Host, sel.Len())
	for i := range hosts {
		hosts[i] = sel.Host(i)
	}
	return inv, hosts, true
}

// choose is load without resolving the hosts selected: the inventory keeps
// every host in its compact form, and resolves one when asked.
func (f *selectFlags) choose(ctx context.Context, cmd string, stderr io.Writer) (*inventory.Inventory, inventory.Selection, bool) {
	var none inventory.Selection
	if len(f.inventories) == 0 {
		fmt.Fprintf(stderr, "fleetclaim %s: -i INVENTORY is required\n", cmd)
		return nil, none, false
	}
	f.inventory = strings.Join(f.inventories, ",")
	keys, err := f.vault.keys(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: %v\n", cmd, err)
		return nil, none, false
	}
	inv, err := inventory.LoadSources(ctx, f.inventories, inventory.LoadOptions{Format: f.format, SSHConfig: f.sshConfig, Overrides: f.sets,
		ScriptTimeout: f.scriptLimit, Vault: keys, Lazy: true})
	if err != nil {
		printInventoryError(stderr, err)
		return nil, none, false
	}
	for _, w := range inv.Warnings {
		fmt.Fprintln(stderr, "warning:", w.String())
	}
	sel, err := inv.Choose(f.limit, f.shard)
	if err != nil {
		printInventoryError(stderr, err)
		return nil, none, false
	}
	return inv, sel, true
}

type claimFlags struct {
	selectFlags
	forks       int
	results     string
	output      string
	retryFile   string
	history     string
	noHistory   bool
	historyKeep int
	tokenFile   string
	wait        time.Duration
	timeout     time.Duration
	deadline    time.Duration
	splay       time.Duration
	grace       time.Duration
	serial      string
	canary      bool
	maxFail     float64
	retries     int
	backoff     time.Duration
	force       bool
	newIdentity bool
	offlineFor  time.Duration
	noProgress  bool
	keepPushed  bool
	debug       bool
	debugFile   string

	passphraseFile string
	passphraseEnv  string
	askPass        bool
	passwordFile   string
	askBecomePass  bool

	// Cloud API: how long to wait for Cloud to list a node (-1: --wait),
	// repair room membership, rotate the claim token.
	waitCloud       time.Duration
	fixRooms        bool
	fetchClaimToken bool
	apiInsecure     bool
	// unclaim: plan an unclaim (plan --unclaim).
	unclaim bool
}

func (f *claimFlags) register(fs *flag.FlagSet, mode claim.Mode) {
	f.selectFlags.register(fs)
	fs.IntVar(&f.forks, "forks", rollout.DefaultForks, "hosts in flight at once (a sliding window)")
	fs.StringVar(&f.results, "results", "", "write one JSON line per host to FILE as each host finishes (fsynced within 0.2s)")
	fs.StringVar(&f.output, "output", "table", "stdout format: table, json, jsonl, junit or markdown")
	fs.StringVar(&f.retryFile, "retry-file", "", "write the hosts that did not end well to FILE (use with --limit @FILE)")
	fs.StringVar(&f.history, "history", "", "run history directory (default: $XDG_STATE_HOME/fleetclaim/history)")
	fs.BoolVar(&f.noHistory, "no-history", false, "do not record this run in the history")
	fs.IntVar(&f.historyKeep, "history-keep", defaultHistoryKeep, "runs the history keeps; after this run the oldest beyond it go (0: keep every run)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "limit for one host's whole run, retries included")
	fs.DurationVar(&f.deadline, "deadline", 0, "limit for the whole run; hosts not started by then are recorded as not-started")
	fs.DurationVar(&f.splay, "splay", 0, "delay each host's start by a random time up to this")
	fs.DurationVar(&f.grace, "grace", 30*time.Second, "after Ctrl-C/SIGTERM, how long hosts in flight may take before they are cancelled")
	fs.StringVar(&f.serial, "serial", "", "rolling batches: sizes or percentages, the last repeating (e.g. 1,10%,100%)")
	fs.BoolVar(&f.canary, "canary", false, "run one host first; stop (exit 3) if it fails")
	fs.Float64Var(&f.maxFail, "max-fail-percentage", -1, "stop starting hosts once more than this % of finished hosts failed (exit 3)")
	fs.IntVar(&f.retries, "retries", 2, "extra attempts for transient failures (refused/lost connection, Cloud 5xx)")
	fs.DurationVar(&f.backoff, "retry-backoff", rollout.DefaultBackoff, "first pause before a retry, doubled each time")
	fs.BoolVar(&f.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	fs.BoolVar(&f.debug, "debug", false, "trace connections, the commands run (never their input) and timings to stderr, secrets redacted")
	fs.StringVar(&f.debugFile, "debug-file", "", "write the --debug trace to FILE (mode 0600, appended) instead of stderr")
	fs.StringVar(&f.passphraseFile, "passphrase-file", "", "passphrase of encrypted identity files (default: asked once on a terminal)")
	fs.StringVar(&f.passphraseEnv, "passphrase-env", "", "environment variable holding the passphrase of encrypted identity files")
	fs.BoolVar(&f.askPass, "ask-pass", false, "allow SSH password authentication; ask the password once on the terminal")
	fs.StringVar(&f.passwordFile, "password-file", "", "allow SSH password authentication with the password in FILE")
	fs.BoolVar(&f.askBecomePass, "ask-become-pass", false, "ask the sudo/doas password once on the terminal (else sudo_password_env/_file, or passwordless)")
	switch mode {
	case claim.ModeClaim, claim.ModePlan, claim.ModeReclaim, claim.ModeReconcile:
		fs.StringVar(&f.tokenFile, "token-file", "", "read the claim token from FILE (overrides the inventory's token source)")
		fs.DurationVar(&f.wait, "wait", 60*time.Second, "after a claim, wait this long for the agent to be online (0: record the state, do not wait)")
	}
	if mode == claim.ModePlan {
		fs.BoolVar(&f.unclaim, "unclaim", false, "show what unclaim would do instead of claim")
	}
	switch mode {
	case claim.ModeClaim, claim.ModePlan:
		fs.BoolVar(&f.force, "force", false, "claim even nodes that are claimed and online")
	}
	switch mode {
	case claim.ModeClaim, claim.ModeReclaim, claim.ModeReconcile, claim.ModePlan:
		fs.BoolVar(&f.keepPushed, "keep-pushed", false, "leave files pushed to hosts (kickstart script, offline bundle) in place for debugging")
		fs.BoolVar(&f.newIdentity, "new-identity", false, "reclaim: also give the node a new machine GUID (cloned VMs); claim: allow claiming hosts that share a GUID by giving them new ones")
	}
	if mode == claim.ModeReconcile {
		fs.DurationVar(&f.offlineFor, "offline-for", 30*time.Minute, "reclaim nodes claimed but offline for longer than this")
		fs.BoolVar(&f.fixRooms, "fix-rooms", false, "Cloud API: add nodes that are in the Space but missing from their group's rooms to those rooms (never removes)")
	}
	fs.BoolVar(&f.apiInsecure, "api-insecure", false, "send the Cloud API token even over an http url or to an unverified server (insecure: yes); same as --set api_insecure=yes")
	switch mode {
	case claim.ModeClaim, claim.ModeReclaim, claim.ModeReconcile:
		fs.DurationVar(&f.waitCloud, "wait-cloud", -1, "with a Cloud API token: how long each claimed node may take to be listed and reachable in its rooms (default: --wait)")
		fs.BoolVar(&f.fetchClaimToken, "fetch-claim-token", false, "rotate the Space's claim token through the Cloud API and claim with the new one; INVALIDATES the old token for every other automation")
	case claim.ModeVerify:
		fs.DurationVar(&f.waitCloud, "wait-cloud", 0, "with a Cloud API token: how long each node may take to be listed and reachable in its rooms")
	}
}

const claimExamples = `
Examples:
  export NETDATA_CLAIM_TOKEN=...
  fleetclaim claim -i inventory.yml
  fleetclaim claim -i inventory.yml --limit 'web:!web03*' --forks 100
  fleetclaim claim -i inventory.yml --serial 1,10%,100% --max-fail-percentage 5 --output junit > report.xml
  fleetclaim claim -i inventory.yml --results results.jsonl --retry-file retry.txt
  fleetclaim claim -i inventory.yml --limit @retry.txt
`

// parseClaimFlags parses and checks a host command's flags. When ok is
// false the command ends with code (0 for -h).
func parseClaimFlags(mode claim.Mode, args []string, stderr io.Writer) (f *claimFlags, serial []rollout.BatchSize, code int, ok bool) {
	fs := flag.NewFlagSet("fleetclaim "+string(mode), flag.ContinueOnError)
	fs.SetOutput(stderr)
	f = &claimFlags{}
	f.register(fs, mode)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fleetclaim %s -i INVENTORY [flags]\n\n%s\n\nFlags:\n", mode, modeHelp[mode])
		fs.PrintDefaults()
		fmt.Fprint(stderr, claimExamples)
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, exitOK, false
		}
		return nil, nil, exitUsage, false
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "fleetclaim %s: unexpected argument %q\n", mode, rest[0])
		return nil, nil, exitUsage, false
	}
	if !validOutput(f.output) {
		fmt.Fprintf(stderr, "fleetclaim %s: --output must be table, json, jsonl, junit or markdown, not %q\n", mode, f.output)
		return nil, nil, exitUsage, false
	}
	serial, err = rollout.ParseSerial(f.serial)
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: %v\n", mode, err)
		return nil, nil, exitUsage, false
	}
	if f.canary {
		serial = append([]rollout.BatchSize{{N: 1}}, serial...)
		if len(serial) == 1 {
			serial = append(serial, rollout.BatchSize{Percent: 100})
		}
		if f.maxFail < 0 {
			f.maxFail = 0
		}
	}
	if f.forks < 1 {
		fmt.Fprintf(stderr, "fleetclaim %s: --forks must be at least 1\n", mode)
		return nil, nil, exitUsage, false
	}
	return f, serial, exitOK, true
}

func runClaim(ctx context.Context, mode claim.Mode, args []string, stdout, stderr io.Writer) int {
	r, code, ok := prepareClaim(ctx, mode, args, stderr)
	if !ok {
		return code
	}
	return r.run(ctx, stdout, stderr)
}

// claimRun is a claim-family command whose input has been checked: the
// flags, the inventory, the Cloud API's rooms, the claim tokens and the sudo
// passwords. Nothing is written before it exists, so a refused command
// changes nothing (no results file truncated, no history entry).
type claimRun struct {
	mode   claim.Mode
	f      *claimFlags
	serial []rollout.BatchSize
	inv    *inventory.Inventory
	// sel are the selected hosts, each resolved when a check or the run
	// asks for it (host): none is held beyond that.
	sel inventory.Selection
	// What the checks have done to the hosts so far, which host gives each
	// host again: dropNames, room names are dropped where no Cloud API
	// names them (unclaim); roomIDs, the others are made ids; clearTokens,
	// the hosts that get a fetched claim token have none before it;
	// askedSudo, --ask-become-pass's password.
	dropNames, roomIDs, clearTokens bool
	askedSudo                       *inventory.Secret
	proof                           *cloud.Proof
	cloud                           *cloudRun
	tokens                          map[inventory.SecretRef]inventory.Secret
	sudoPasswords                   map[inventory.SecretRef]inventory.Secret
	// proxySecrets are the credentials of the hosts' proxies, which the
	// debug log and the records redact; names, the hosts' names for
	// --retry-file.
	proxySecrets []inventory.Secret
	names        []string
	resolving    sync.Mutex
}

// prepareClaim checks a claim-family command's input. When it is refused,
// ok is false and code is the exit code, the reason printed on stderr.
// Each check goes over the hosts resolved one at a time: none holds them
// all.
func prepareClaim(ctx context.Context, mode claim.Mode, args []string, stderr io.Writer) (r *claimRun, code int, ok bool) {
	f, serial, usageCode, ok := parseClaimFlags(mode, args, stderr)
	if !ok {
		return nil, usageCode, false
	}
	cr := &claimRun{mode: mode, f: f, serial: serial}
	if !cr.loadHosts(ctx, stderr) {
		return nil, exitUsage, false
	}
	changes := mode == claim.ModeClaim || mode == claim.ModeReclaim || mode == claim.ModeReconcile
	if (changes || mode == claim.ModePlan) && !f.unclaim {
		cr.warnDuplicateNames(stderr)
	}
	// unclaim changes hosts but sends no claim token.
	writes := changes || mode == claim.ModeUnclaim
	if mode == claim.ModeUnclaim || f.unclaim {
		changes = false
		cr.dropNames = true
	}
	if !cr.setupCloud(ctx, stderr) || !cr.checkSecrets(changes, writes, stderr) {
		return nil, exitUsage, false
	}
	return cr, 0, true
}

// loadHosts loads the inventory and selects the hosts; false, said on
// stderr, when they cannot be used.
func (cr *claimRun) loadHosts(ctx context.Context, stderr io.Writer) bool {
	f, mode := cr.f, cr.mode
	inv, sel, ok := f.choose(ctx, string(mode), stderr)
	if !ok {
		return false
	}
	if err := f.checkAuthSources(); err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: %v\n", mode, err)
		return false
	}
	cr.inv, cr.sel = inv, sel
	return true
}

// override applies the command line's --token-file and --api-insecure.
func (cr *claimRun) override(h *inventory.Host) {
	if cr.f.tokenFile != "" {
		h.Claim.Token = inventory.SecretRef{File: cr.f.tokenFile}
	}
	if cr.f.apiInsecure {
		h.Claim.APIInsecure = true
		h.Sources["api_insecure"] = "--api-insecure"
	}
}

// host resolves the i-th selected host with what the checks (and the
// fetched claim tokens) have done to the hosts so far: the command line's
// overrides, room names made ids (or dropped), the token cleared or
// fetched, the sudo password asked for. TestRunHostsAsChecked compares the
// hosts a run gets with the whole-list checking of before.
func (cr *claimRun) host(i int) *inventory.Host {
	cr.resolving.Lock()
	defer cr.resolving.Unlock()
	h := cr.sel.Host(i)
	cr.override(h)
	if cr.dropNames {
		dropRoomNamesWithoutAPI([]*inventory.Host{h})
	}
	if cr.roomIDs {
		// The same rooms of the same Spaces as when they were checked: no
		// error now.
		_ = cr.inv.ResolveRoomNames([]*inventory.Host{h}, cr.cloud.roomLister)
	}
	if cr.clearTokens {
		cr.cloud.clearFetchedToken(h)
		cr.cloud.useFetchedToken(h)
	}
	if cr.askedSudo != nil && h.SudoPassword.IsZero() && h.Become != "" && h.Become != "none" {
		h.SudoPassword = inventory.SecretRef{Inline: cr.askedSudo.Reveal()}
	}
	return h
}

// hosts yields every selected host, as host resolves it.
func (cr *claimRun) hosts() iter.Seq[*inventory.Host] {
	return func(yield func(*inventory.Host) bool) {
		for i := range cr.sel.Len() {
			if !yield(cr.host(i)) {
				return
			}
		}
	}
}

// runHosts is the run's rollout.Source: each host resolved when the run
// reaches it.
type runHosts struct{ cr *claimRun }

func (s runHosts) Len() int                   { return s.cr.sel.Len() }
func (s runHosts) Host(i int) *inventory.Host { return s.cr.host(i) }

// warnDuplicateNames warns about hosts that would be two nodes of one name
// in a Space; only the hosts that set a node name can be.
func (cr *claimRun) warnDuplicateNames(stderr io.Writer) {
	var named []*inventory.Host
	for h := range cr.hosts() {
		if h.Claim.Hostname != "" {
			named = append(named, h)
		}
	}
	for _, w := range claim.DuplicateNodeNames(named) {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
}

// setupCloud opens the Cloud API of the run's hosts (room names become ids
// before anything else happens) and its proof; false, said on stderr, when
// the run cannot go on.
func (cr *claimRun) setupCloud(ctx context.Context, stderr io.Writer) bool {
	f, mode := cr.f, cr.mode
	cloud, err := setupCloud(ctx, cr.inv, cr.hosts(), f.fixRooms || f.fetchClaimToken, stderr)
	if err != nil {
		printInventoryError(stderr, err)
		return false
	}
	cr.cloud, cr.roomIDs = cloud, true
	if f.fetchClaimToken {
		if f.tokenFile != "" {
			fmt.Fprintf(stderr, "fleetclaim %s: --fetch-claim-token and --token-file exclude each other\n", mode)
			return false
		}
		// The token is rotated at the very end of the checks (claimRun.run):
		// a refused run must not have invalidated everyone else's token.
		// Until then the hosts it is for need no token of their own.
		if err := cloud.willFetchClaimTokens(); err != nil {
			fmt.Fprintf(stderr, "fleetclaim %s: %v\n", mode, err)
			return false
		}
		cr.clearTokens = true
	}
	if f.waitCloud < 0 {
		f.waitCloud = f.wait
	}
	cr.proof = cloud.proof(f.waitCloud, f.fixRooms)
	if mode == claim.ModeUnclaim {
		cr.proof = nil // nothing to prove: the nodes leave
	}
	if f.fixRooms && cr.proof == nil {
		fmt.Fprintf(stderr, "fleetclaim %s: --fix-rooms needs a Cloud API token (%s, api_token_env or api_token_file)\n", mode, inventory.DefaultAPITokenEnv)
		return false
	}
	return true
}

// checkSecrets checks the hosts' files and secrets when the run changes
// them, reads the claim tokens and sudo passwords, and notes the proxies'
// credentials and the hosts' names; false, said on stderr, when one is
// missing.
func (cr *claimRun) checkSecrets(changes, writes bool, stderr io.Writer) bool {
	if changes {
		if err := cr.inv.CheckHosts(cr.hosts()); err != nil {
			printInventoryError(stderr, err)
			return false
		}
	}
	var err error
	cr.tokens, err = resolveTokens(cr.hosts(), changes)
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: %v\n", cr.mode, err)
		return false
	}
	cr.sudoPasswords, cr.askedSudo, err = resolveSudoPasswords(cr.hosts(), cr.f.askBecomePass && writes)
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: %v\n", cr.mode, err)
		return false
	}
	seen := map[string]bool{}
	for h := range cr.hosts() {
		if p := h.Claim.Proxy; p.HasCredentials() && !seen[p.Credentials().Reveal()] {
			seen[p.Credentials().Reveal()] = true
			cr.proxySecrets = append(cr.proxySecrets, p.Credentials())
		}
		if cr.f.retryFile != "" {
			cr.names = append(cr.names, h.Name)
		}
	}
	return true
}

// runOutputs are the files and logs of a run that its records go to.
type runOutputs struct {
	dlog        *debugLog
	retry       *retryFile
	resultsFile *jsonLines
	hist        *historyRun
	past        claim.GUIDHistory
	closers     []func()
}

func (o *runOutputs) close() {
	for i := len(o.closers) - 1; i >= 0; i-- {
		o.closers[i]()
	}
}

// openOutputs opens the debug log, the retry file, the results file and
// the history, and fetches the claim tokens (the last check that can
// refuse a run); false, said on stderr, when one cannot be opened.
func (cr *claimRun) openOutputs(ctx context.Context, stderr io.Writer) (*runOutputs, bool) {
	f, mode := cr.f, cr.mode
	o := &runOutputs{}
	var closeDebug func()
	var err error
	o.dlog, closeDebug, err = openDebug(f.debug, f.debugFile, stderr, cr.secrets())
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: debug file: %v\n", mode, err)
		return nil, false
	}
	o.closers = append(o.closers, closeDebug)
	if o.retry, err = startRetryFile(f.retryFile, cr.names); err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: retry file: %v\n", mode, err)
		o.close()
		return nil, false
	}
	var ok bool
	if o.resultsFile, ok = cr.openResults(stderr); !ok {
		o.close()
		return nil, false
	}
	if o.resultsFile != nil {
		o.closers = append(o.closers, func() { o.resultsFile.close() })
	}
	if f.fetchClaimToken && !cr.fetchTokens(ctx, o.dlog, stderr) {
		o.close()
		return nil, false
	}
	if !f.noHistory {
		o.past = pastGUIDsOf(f.history, stderr)
		o.hist, err = startHistory(f.history, f.historyKeep, string(mode), f.inventory, cr.sel.Len())
		if err != nil {
			fmt.Fprintf(stderr, "warning: run history disabled: %v\n", err)
		}
	}
	return o, true
}

// run claims (or plans, verifies, reclaims, reconciles) the hosts and
// writes every output: the results file, the history, the rendering on
// stdout and the summary on stderr. It returns the exit code.
func (cr *claimRun) run(ctx context.Context, stdout, stderr io.Writer) int {
	f, n := cr.f, cr.sel.Len()
	o, ok := cr.openOutputs(ctx, stderr)
	if !ok {
		return exitUsage
	}
	defer o.close()
	dialer := remote.NewDialer(f.dialerOptions(stderr))
	defer dialer.Close()
	var connector claim.Connector = claim.SSHConnector{Dialer: dialer}
	if o.dlog != nil {
		connector = debugConnector{inner: connector, log: o.dlog}
	}
	c := cr.claimer(connector, o.past)

	startCtx, runCtx, interrupted, stop := cr.runContexts(ctx, stderr)
	defer stop()

	// The records wait in the spool for the final outputs: the run keeps
	// an index of a few bytes per host, not the records.
	recs, err := newSpool(n)
	// The summaries are counted as hosts finish: no pass over the spool.
	tally := newTally(summaryHosts, summaryItem)
	if err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	defer func() {
		if err := recs.close(); err != nil {
			fmt.Fprintf(stderr, "warning: spool of the run's records: %v (records kept in memory instead)\n", err)
		}
	}()
	out := &outputWriter{w: stdout}
	prog := newProgress(stderr, n, !f.noProgress)
	// Called one host at a time: the record is encoded once, for the
	// results file, the history, the jsonl output and the spool.
	fleet := cr.fleet(func(i int, r claim.Result) {
		if len(cr.proxySecrets) > 0 {
			redactProxy(&r, cr.host(i).Claim.Proxy)
		}
		if line, err := encodeLine(r); err == nil {
			o.resultsFile.write(line)
			o.hist.add(r.Status, line)
			if f.output == "jsonl" {
				out.write(line)
			}
			recs.add(i, line)
			tally.add(i, &r)
			o.retry.ended(i, r.Status.OK())
		}
		prog.done(r)
	})
	start := time.Now()
	outcome := fleet.RunSource(startCtx, runCtx, runHosts{cr}, c.Do)
	prog.finish()
	return cr.finishOutputs(o, out, recs, tally, time.Since(start), stderr, func() int { return exitCode(outcome, interrupted.fired()) })
}

// runContexts are a run's contexts: startCtx ending stops new hosts,
// runCtx ending cancels those in flight. The first signal stops new hosts
// and gives those in flight --grace; a second one (or the end of the
// grace) cancels them. stop releases them.
func (cr *claimRun) runContexts(ctx context.Context, stderr io.Writer) (startCtx, runCtx context.Context, w *signalWatch, stop func()) {
	f := cr.f
	startCtx, stopStarting := context.WithCancel(ctx)
	runCtx, cancelRun := context.WithCancel(context.Background())
	stops := []func(){stopStarting, cancelRun}
	if f.deadline > 0 {
		var c1, c2 context.CancelFunc
		startCtx, c1 = context.WithTimeout(startCtx, f.deadline)
		runCtx, c2 = context.WithTimeout(runCtx, f.deadline)
		stops = append(stops, c1, c2)
	}
	w = watchSignals(stderr, stopStarting, cancelRun, f.grace)
	stops = append(stops, w.stop)
	return startCtx, runCtx, w, func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
}

// finishOutputs renders the records, closes the results file, prints the
// summaries, writes the retry file and ends the history entry; it returns
// the exit code: codeOf's, once that is done, unless an output failed.
func (cr *claimRun) finishOutputs(o *runOutputs, out *outputWriter, recs *spool, tally *recordTally, elapsed time.Duration, stderr io.Writer, codeOf func() int) int {
	f, mode := cr.f, cr.mode
	if err := renderResults(out, f.output, string(mode), recs, elapsed); err != nil && out.err == nil {
		out.err = err
	}
	writeFailed := out.err != nil
	if out.err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: writing output: %v\n", mode, out.err)
	}
	if err := o.resultsFile.close(); err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: results file %s is incomplete: %v\n", mode, f.results, err)
		writeFailed = true
	}
	printTally(stderr, tally)
	if cr.proof != nil && mode != claim.ModePlan {
		printCloudTally(stderr, tally)
	}
	if err := o.retry.finish(recs); err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: retry file: %v\n", mode, err)
	}
	code := codeOf()
	if writeFailed && code == exitOK {
		code = exitFailed // every host ended well, but not every record was written
	}
	o.hist.finish(code)
	return code
}

var modeHelp = map[claim.Mode]string{
	claim.ModeClaim:     "Claim every selected host: probe, pick the method, claim, wait until online.\nNodes that are claimed and online are left alone.",
	claim.ModePlan:      "Show, per host, the method and steps claim would take. Changes nothing.",
	claim.ModeVerify:    "Read-only: is each node claimed and online? Reports the troubleshooting keys.",
	claim.ModeReclaim:   "Start over: stop the agent, remove cloud.d, start it, claim again.\n--new-identity also gives cloned machines their own machine GUID.",
	claim.ModeUnclaim:   unclaimHelp,
	claim.ModeReconcile: "For schedules: verify everything, claim what is not claimed, reclaim what is claimed\nto the wrong Cloud url or offline for longer than --offline-for, report the rest.",
}

const unclaimHelp = "Remove each node's claim: stop the agent, remove its claim state (cloud.d: claimed id, keys,\n" +
	"cloud.conf; claim.conf), start it again (an agent that was stopped stays stopped). A node with no\n" +
	"claim is already-unclaimed and is not touched. With a Cloud API token, the node is also removed\n" +
	"from its rooms. 'fleetclaim plan --unclaim' shows the steps.\n\n" + claim.CloudKeeps

func validOutput(o string) bool {
	switch o {
	case "table", "json", "jsonl", "junit", "markdown":
		return true
	}
	return false
}

func exitCode(out rollout.Outcome[claim.Result], signalled bool) int {
	switch {
	case signalled:
		return exitInterrupted
	case out.StoppedByMaxFail:
		return exitMaxFail
	case out.NotOK > 0:
		return exitFailed
	}
	return exitOK
}

// fleet is the run's rollout: its settings from the flags, the Cloud
// proof after each host, and onResult, which sees each record once.
func (cr *claimRun) fleet(onResult func(int, claim.Result)) rollout.Fleet[claim.Result] {
	f, mode := cr.f, cr.mode
	fleet := rollout.Fleet[claim.Result]{
		NotStarted:     claim.NotStarted,
		Forks:          f.forks,
		Splay:          f.splay,
		HostTimeout:    f.timeout,
		Serial:         cr.serial,
		MaxFailPercent: f.maxFail,
		Backoff:        f.backoff,
		Discard:        true,
		OnResult:       onResult,
	}
	if mode != claim.ModeVerify && mode != claim.ModePlan {
		fleet.Retries = max(f.retries, 0)
	}
	if cr.proof != nil && mode != claim.ModePlan {
		// The proof only waits for Cloud's batched answers: outside the window.
		fleet.After = cr.proof.Check
		// Once the last host of a batch has left the window, Cloud is
		// asked at once about the nodes still waiting.
		fleet.Drained = cr.proof.Drain
	}
	return fleet
}

// secrets are the run's secrets, which the debug log redacts: the claim
// tokens, the sudo passwords and the proxies' credentials.
func (cr *claimRun) secrets() []inventory.Secret {
	var secrets []inventory.Secret
	for _, s := range cr.tokens {
		secrets = append(secrets, s)
	}
	for _, s := range cr.sudoPasswords {
		secrets = append(secrets, s)
	}
	return append(secrets, cr.proxySecrets...)
}

// openResults opens --results (nil without it); false, said on stderr,
// when it cannot be created.
func (cr *claimRun) openResults(stderr io.Writer) (*jsonLines, bool) {
	f, mode := cr.f, cr.mode
	if f.results == "" {
		return nil, true
	}
	rf, err := os.OpenFile(f.results, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: results file: %v\n", mode, err)
		return nil, false
	}
	return newJSONLines(rf, func(err error) {
		fmt.Fprintf(stderr, "fleetclaim %s: results file %s: %v: it misses records from here on\n", mode, f.results, err)
	}), true
}

// fetchTokens rotates the Space's claim token for --fetch-claim-token,
// once every check has passed, and hands the new tokens to the hosts and
// the debug log's redaction; false, said on stderr, when it failed.
func (cr *claimRun) fetchTokens(ctx context.Context, dlog *debugLog, stderr io.Writer) bool {
	fetched, err := cr.cloud.fetchClaimTokens(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: %v\n", cr.mode, err)
		return false
	}
	// The hosts of each Space now have its token inline (host).
	for _, s := range fetched {
		cr.tokens[inventory.SecretRef{Inline: s.Reveal()}] = s
		dlog.addSecret(s)
	}
	return true
}

// claimer is the run's Claimer, its secrets looked up per host.
func (cr *claimRun) claimer(connector claim.Connector, past claim.GUIDHistory) *claim.Claimer {
	f := cr.f
	return claim.New(connector, claim.Options{
		Mode:        cr.mode,
		Wait:        f.wait,
		Force:       f.force,
		NewIdentity: f.newIdentity,
		PastGUIDs:   past,
		OfflineFor:  f.offlineFor,
		KeepPushed:  f.keepPushed,
		Unclaim:     f.unclaim,
		CloudRooms:  cr.cloud.rooms,
		SudoPassword: func(h *inventory.Host) (inventory.Secret, error) {
			if s, ok := cr.sudoPasswords[h.SudoPassword]; ok {
				return s, nil
			}
			return inventory.Secret{}, errors.New("no sudo password for this host")
		},
		Token: func(h *inventory.Host) (inventory.Secret, error) {
			t, ok := cr.tokens[h.Claim.Token]
			if !ok {
				return inventory.Secret{}, errors.New("no claim token for this host")
			}
			return t, nil
		},
	})
}

// signalWatch handles Ctrl-C and SIGTERM during a run.
type signalWatch struct {
	ch   chan os.Signal
	done chan struct{}
	mu   sync.Mutex
	got  bool
}

func watchSignals(stderr io.Writer, stopStarting, cancelRun context.CancelFunc, grace time.Duration) *signalWatch {
	w := &signalWatch{ch: make(chan os.Signal, 2), done: make(chan struct{})}
	signal.Notify(w.ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-w.done:
			return
		case s := <-w.ch:
			w.mu.Lock()
			w.got = true
			w.mu.Unlock()
			fmt.Fprintf(stderr, "\n%v: no new hosts will start; hosts in flight have %s to finish (again to cancel them now)\n", s, grace)
			stopStarting()
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-w.done:
		case <-w.ch:
			fmt.Fprintln(stderr, "cancelling the hosts in flight")
			cancelRun()
		case <-t.C:
			fmt.Fprintln(stderr, "grace period over: cancelling the hosts in flight")
			cancelRun()
		}
	}()
	return w
}

func (w *signalWatch) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got
}

func (w *signalWatch) stop() {
	signal.Stop(w.ch)
	close(w.done)
}

func printInventoryError(w io.Writer, err error) {
	var errs inventory.Errors
	if errors.As(err, &errs) {
		for _, d := range errs {
			fmt.Fprintln(w, "error:", d.String())
		}
		fmt.Fprintf(w, "%d error(s); nothing was contacted\n", len(errs))
		return
	}
	fmt.Fprintln(w, "error:", err)
}

// redactProxy removes the host's proxy credentials from every text of its
// record: what the host answered may repeat them (the agent's claim error
// names the proxy it tried), and records go to files, the history and the
// terminal.
func redactProxy(r *claim.Result, p inventory.Proxy) {
	if !p.HasCredentials() {
		return
	}
	r.Message = p.Redact(r.Message)
	r.Remedy = p.Redact(r.Remedy)
	for i := range r.Plan {
		r.Plan[i] = p.Redact(r.Plan[i])
	}
	for i := range r.Warnings {
		r.Warnings[i] = p.Redact(r.Warnings[i])
	}
}

// resolveTokens reads each distinct token source once, before any host is
// contacted, so that a missing token stops the run with nothing touched.
func resolveTokens(hosts iter.Seq[*inventory.Host], needed bool) (map[inventory.SecretRef]inventory.Secret, error) {
	out := map[inventory.SecretRef]inventory.Secret{}
	if !needed {
		return out, nil
	}
	for h := range hosts {
		ref := h.Claim.Token
		if _, ok := out[ref]; ok || ref.IsZero() {
			// Zero: the token is fetched from the Cloud API at the start of the run.
			continue
		}
		s, err := ref.Resolve(os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("claim token for %s (%s): %w", h.Name, ref.String(), err)
		}
		out[ref] = s
	}
	return out, nil
}

// checkAuthSources checks that the password and passphrase sources named
// on the command line are there, before the run: the dialer reads them
// only when a host asks, which may be after --fetch-claim-token rotated.
func (f *claimFlags) checkAuthSources() error {
	for _, c := range []struct{ flag, path string }{{"--password-file", f.passwordFile}, {"--passphrase-file", f.passphraseFile}} {
		if c.path == "" {
			continue
		}
		b, err := os.ReadFile(c.path)
		if err != nil {
			return fmt.Errorf("%s: %w", c.flag, err)
		}
		if len(b) == 0 {
			return fmt.Errorf("%s: %s is empty", c.flag, c.path)
		}
	}
	if f.passphraseEnv != "" {
		if v, ok := os.LookupEnv(f.passphraseEnv); !ok || v == "" {
			return fmt.Errorf("--passphrase-env: environment variable %s is not set", f.passphraseEnv)
		}
	}
	return nil
}

// dialerOptions turns the auth flags into the SSH dialer's options.
func (f *claimFlags) dialerOptions(stderr io.Writer) remote.DialerOptions {
	o := remote.DialerOptions{
		AgentSocket:    os.Getenv("SSH_AUTH_SOCK"),
		PassphraseFile: f.passphraseFile,
		PassphraseEnv:  f.passphraseEnv,
	}
	if f.passphraseFile == "" && f.passphraseEnv == "" && isTerminal(os.Stdin) {
		o.Passphrase = remote.TerminalPassphrase()
	}
	switch {
	case f.passwordFile != "":
		o.PasswordAuth, o.Password = true, remote.PasswordFromFile(f.passwordFile)
	case f.askPass:
		o.PasswordAuth, o.Password = true, remote.TerminalPassword()
	}
	return o
}

// resolveSudoPasswords reads each distinct sudo password source once; with
// ask, hosts that become root get the one password asked on the terminal.
func resolveSudoPasswords(hosts iter.Seq[*inventory.Host], ask bool) (map[inventory.SecretRef]inventory.Secret, *inventory.Secret, error) {
	out := map[inventory.SecretRef]inventory.Secret{}
	var asked *inventory.Secret
	for h := range hosts {
		ref := h.SudoPassword
		if _, ok := out[ref]; ok {
			continue
		}
		if ref.IsZero() {
			if !ask || h.Become == "" || h.Become == "none" {
				continue
			}
			if asked == nil {
				pw, err := remote.TerminalBecomePassword()()
				if err != nil {
					return nil, nil, fmt.Errorf("--ask-become-pass: %w", err)
				}
				s := inventory.NewSecret(string(pw))
				asked = &s
			}
			h.SudoPassword = inventory.SecretRef{Inline: asked.Reveal()}
			out[h.SudoPassword] = *asked
			continue
		}
		s, err := ref.Resolve(os.LookupEnv)
		if err != nil {
			return nil, nil, fmt.Errorf("sudo password for %s (%s): %w", h.Name, ref.String(), err)
		}
		out[ref] = s
	}
	return out, asked, nil
}
