package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2EProxyCredentialsRedacted: a proxy's user:password is a secret. With
// a proxy that refuses connections (the agents' claims fail and report the
// proxy they tried), neither plan, claim's table, JSON and results file,
// the history, the --debug trace, nor inventory list shows it.
func TestE2EProxyCredentialsRedacted(t *testing.T) {
	info := startLab(t, 2, "--personalities", "v1=1,v2=1")
	const pw = "Pr0xy-Passw0rd"
	var names []string
	for _, h := range info.Hosts {
		names = append(names, h.Name)
	}
	inv := withHostSettingIn(t, info.Inventory(), "proxy: 'http://alice:"+pw+"@127.0.0.1:1'", names...)
	dir := t.TempDir()
	results := filepath.Join(dir, "results.jsonl")
	history := filepath.Join(dir, "history")
	debug := filepath.Join(dir, "debug.log")
	var outs []string
	run := func(args ...string) runResult {
		r := fleetclaim(t, nil, args...)
		outs = append(outs, strings.Join(args, " ")+"\n"+r.stdout+r.stderr)
		return r
	}
	run("plan", "-i", inv, "--no-progress", "--no-history")
	run("plan", "-i", inv, "--no-progress", "--no-history", "--output", "json")
	r := run("claim", "-i", inv, "--no-progress", "--results", results, "--history", history, "--debug-file", debug,
		"--output", "json", "--wait", "2s", "--retries", "0")
	if r.code != exitFailed || !strings.Contains(r.stdout, "[REDACTED]") {
		t.Errorf("claim through a refusing proxy: exit %d, want %d, and a message that names the (redacted) proxy\n%s%s", r.code, exitFailed, r.stdout, r.stderr)
	}
	run("claim", "-i", inv, "--no-progress", "--no-history", "--wait", "2s", "--retries", "0", "--output", "markdown")
	run("inventory", "list", "-i", inv)
	run("inventory", "list", "-i", inv, "--output", "long")
	run("inventory", "list", "-i", inv, "--output", "json")
	for _, f := range []string{results, debug} {
		outs = append(outs, f+"\n"+mustRead(t, f))
	}
	filepath.WalkDir(history, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			outs = append(outs, p+"\n"+mustRead(t, p))
		}
		return nil
	})
	for _, o := range outs {
		if strings.Contains(o, pw) {
			t.Errorf("the proxy's password in:\n%s", o)
		}
	}
}
