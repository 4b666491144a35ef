package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

const (
	modeClaim  = claim.ModeClaim
	modePlan   = claim.ModePlan
	modeVerify = claim.ModeVerify
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type claimFlags struct {
	inventory  string
	format     string
	sshConfig  string
	limit      string
	shard      string
	sets       stringList
	forks      int
	results    string
	output     string
	tokenFile  string
	wait       time.Duration
	timeout    time.Duration
	force      bool
	noProgress bool
}

func (f *claimFlags) register(fs *flag.FlagSet, mode claim.Mode) {
	fs.StringVar(&f.inventory, "i", "", "inventory file (native YAML or Ansible)")
	fs.StringVar(&f.inventory, "inventory", "", "inventory file (same as -i)")
	fs.StringVar(&f.format, "inventory-format", "", "force the inventory format: native or ansible")
	fs.StringVar(&f.sshConfig, "F", "", "ssh_config file (default ~/.ssh/config; 'none' to ignore it)")
	fs.StringVar(&f.limit, "limit", "", "select hosts: names, globs, groups, a:b, a:&b, a:!b, @file")
	fs.StringVar(&f.shard, "shard", "", "K/N: run only the K-th of N stable shards of the selection")
	fs.Var(&f.sets, "set", "override a setting for every host, key=value (repeatable)")
	fs.IntVar(&f.forks, "forks", 50, "hosts in flight at once")
	fs.StringVar(&f.results, "results", "", "write one JSON line per host to FILE as each host finishes")
	fs.StringVar(&f.output, "output", "table", "stdout format: table, json or jsonl")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "limit for one host's whole run")
	fs.BoolVar(&f.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	if mode == modeClaim || mode == modePlan {
		fs.StringVar(&f.tokenFile, "token-file", "", "read the claim token from FILE (overrides the inventory's token source)")
		fs.BoolVar(&f.force, "force", false, "claim even nodes that are claimed and online")
	}
	if mode == modeClaim {
		fs.DurationVar(&f.wait, "wait", 60*time.Second, "after a claim, wait this long for the agent to be online (0: do not wait)")
	}
}

func runClaim(ctx context.Context, mode claim.Mode, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleetclaim "+string(mode), flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f claimFlags
	f.register(fs, mode)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fleetclaim %s: unexpected argument %q\n", mode, fs.Arg(0))
		return exitUsage
	}
	if f.inventory == "" {
		fmt.Fprintf(stderr, "fleetclaim %s: -i INVENTORY is required\n", mode)
		return exitUsage
	}
	switch f.output {
	case "table", "json", "jsonl":
	default:
		fmt.Fprintf(stderr, "fleetclaim %s: --output must be table, json or jsonl, not %q\n", mode, f.output)
		return exitUsage
	}

	inv, err := inventory.Load(f.inventory, inventory.LoadOptions{Format: f.format, SSHConfig: f.sshConfig, Overrides: f.sets})
	if err != nil {
		printInventoryError(stderr, err)
		return exitUsage
	}
	for _, w := range inv.Warnings {
		fmt.Fprintln(stderr, "warning:", w.String())
	}
	hosts, err := inv.Select(f.limit, f.shard)
	if err != nil {
		printInventoryError(stderr, err)
		return exitUsage
	}
	if f.tokenFile != "" {
		for _, h := range hosts {
			h.Claim.Token = inventory.SecretRef{File: f.tokenFile}
		}
	}
	if err := inv.CheckSecrets(hosts); err != nil && mode == modeClaim {
		printInventoryError(stderr, err)
		return exitUsage
	}
	tokens, err := resolveTokens(hosts, mode)
	if err != nil {
		fmt.Fprintf(stderr, "fleetclaim %s: %v\n", mode, err)
		return exitUsage
	}

	var resultsFile *os.File
	if f.results != "" {
		resultsFile, err = os.OpenFile(f.results, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "fleetclaim %s: results file: %v\n", mode, err)
			return exitUsage
		}
		defer resultsFile.Close()
	}

	dialer := remote.NewDialer(remote.DialerOptions{AgentSocket: os.Getenv("SSH_AUTH_SOCK")})
	defer dialer.Close()
	c := claim.New(claim.SSHConnector{Dialer: dialer}, claim.Options{
		Mode:  mode,
		Wait:  f.wait,
		Force: f.force,
		Token: func(h *inventory.Host) (inventory.Secret, error) {
			t, ok := tokens[h.Claim.Token]
			if !ok {
				return inventory.Secret{}, errors.New("no claim token for this host")
			}
			return t, nil
		},
	})

	prog := newProgress(stderr, len(hosts), !f.noProgress)
	var outMu sync.Mutex
	enc := json.NewEncoder(stdout)
	onResult := func(r claim.Result) {
		if resultsFile != nil {
			writeJSONLine(resultsFile, r)
		}
		if f.output == "jsonl" {
			outMu.Lock()
			enc.Encode(r)
			outMu.Unlock()
		}
		prog.done(r)
	}
	results := claim.RunFleet(ctx, hosts, claim.FleetOptions{Forks: f.forks, HostTimeout: f.timeout, OnResult: onResult}, c.Do)
	prog.finish()

	switch f.output {
	case "table":
		renderTable(stdout, results)
	case "json":
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		e.Encode(results)
	}
	printSummary(stderr, results)

	if ctx.Err() != nil {
		return exitInterrupted
	}
	for _, r := range results {
		if !r.Status.OK() {
			return exitFailed
		}
	}
	return exitOK
}

func printInventoryError(w io.Writer, err error) {
	var errs inventory.Errors
	if errors.As(err, &errs) {
		for _, d := range errs {
			fmt.Fprintln(w, "error:", d.String())
		}
		fmt.Fprintf(w, "%d error(s) in the inventory; nothing was contacted\n", len(errs))
		return
	}
	fmt.Fprintln(w, "error:", err)
}

// resolveTokens reads each distinct token source once, before any host is
// contacted, so that a missing token stops the run with nothing touched.
func resolveTokens(hosts []*inventory.Host, mode claim.Mode) (map[inventory.SecretRef]inventory.Secret, error) {
	out := map[inventory.SecretRef]inventory.Secret{}
	if mode != modeClaim {
		return out, nil
	}
	for _, h := range hosts {
		ref := h.Claim.Token
		if _, ok := out[ref]; ok {
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

// writeJSONLine appends one record and syncs it, so that a crash keeps every
// host that finished.
func writeJSONLine(f *os.File, r claim.Result) {
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	b = append(b, '\n')
	f.Write(b)
	f.Sync()
}
