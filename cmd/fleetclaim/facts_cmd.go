package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/claim/rollout"
	"github.com/fleetclaim/fleetclaim/remote"
)

// runFacts probes every selected host once and shows what fleetclaim
// found: OS, privileges, Docker, each Netdata install, and the method claim
// would use. It changes nothing.
func runFacts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleetclaim facts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f claimFlags
	f.selectFlags.register(fs)
	fs.IntVar(&f.forks, "forks", rollout.DefaultForks, "hosts in flight at once (a sliding window)")
	fs.StringVar(&f.output, "output", "table", "stdout format: table or json")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "limit for one host's probe")
	fs.StringVar(&f.passphraseFile, "passphrase-file", "", "passphrase of encrypted identity files")
	fs.StringVar(&f.passphraseEnv, "passphrase-env", "", "environment variable holding the passphrase of encrypted identity files")
	fs.BoolVar(&f.askPass, "ask-pass", false, "allow SSH password authentication; ask the password once on the terminal")
	fs.StringVar(&f.passwordFile, "password-file", "", "allow SSH password authentication with the password in FILE")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: fleetclaim facts -i INVENTORY [flags]\n\nProbe each host once and show what fleetclaim found there and the method claim would use. Changes nothing.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "fleetclaim facts: unexpected argument %q\n", rest[0])
		return exitUsage
	}
	if f.output != "table" && f.output != "json" {
		fmt.Fprintf(stderr, "fleetclaim facts: --output must be table or json, not %q\n", f.output)
		return exitUsage
	}
	if f.forks < 1 {
		fmt.Fprintln(stderr, "fleetclaim facts: --forks must be at least 1")
		return exitUsage
	}
	_, hosts, ok := f.load(ctx, "facts", stderr)
	if !ok {
		return exitUsage
	}
	dialer := remote.NewDialer(f.dialerOptions(stderr))
	defer dialer.Close()
	conn := claim.SSHConnector{Dialer: dialer}
	out := make([]claim.Inspection, len(hosts))
	sem := make(chan struct{}, f.forks)
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			hctx, cancel := context.WithTimeout(ctx, f.timeout)
			defer cancel()
			out[i] = claim.Inspect(hctx, conn, h)
		}()
	}
	wg.Wait()
	failed := false
	for _, hf := range out {
		if hf.Facts == nil {
			failed = true
		}
	}
	if f.output == "json" {
		if err := writeFactsJSON(stdout, out); err != nil {
			fmt.Fprintln(stderr, "fleetclaim facts:", err)
			return exitFailed
		}
	} else {
		printFactsTable(stdout, out)
	}
	if failed {
		return exitFailed
	}
	return exitOK
}

// writeFactsJSON writes the facts as one indented JSON array (jsonSafe).
func writeFactsJSON(w io.Writer, out []claim.Inspection) error {
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(jsonSafe(b), '\n'))
	return err
}

func printFactsTable(w io.Writer, out []claim.Inspection) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tOS\tUSER\tINIT\tAGENT\tMETHOD\tNOTE")
	for _, hf := range out {
		if hf.Facts == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t[%s] %s\n", termText(hf.Host), termText(string(hf.Category)), termLine(hf.Error, 120))
			continue
		}
		f := hf.Facts
		osName := f.OS.PrettyName
		if osName == "" {
			osName = f.Kernel
		}
		user := f.User
		switch {
		case f.ProbeVia != "":
			user += " (probed as " + f.ProbeUser + " via " + f.ProbeVia + ")"
		case f.Root():
			user += " (root)"
		case f.SudoNoPassword:
			user += " (sudo)"
		case f.DoasNoPassword:
			user += " (doas)"
		}
		var agents []string
		for _, in := range f.Installs {
			a := in.Layout + " " + orDash(in.Version)
			a += " " + orDash(in.InstallType)
			if in.CloudSupport == "no" {
				a += " no-cloud"
			}
			a += " as " + in.RunAsUser
			if in.Claimed() {
				a += " claimed"
			}
			agents = append(agents, a)
		}
		for _, c := range f.Containers {
			agents = append(agents, "container "+c.Name+" ("+c.Image+")")
		}
		if len(agents) == 0 {
			agents = []string{"none"}
		}
		note := ""
		if hf.Category != "" {
			note = "[" + string(hf.Category) + "] " + oneLine(hf.Note, 120)
		}
		// Every cell holds what the host said: escaped, tabs included (a
		// tab would shift tabwriter's columns).
		cells := []string{hf.Host, osName + " " + f.Arch, user, f.Init, strings.Join(agents, "; "), orDash(hf.Method), note}
		for i, c := range cells {
			cells[i] = termText(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
