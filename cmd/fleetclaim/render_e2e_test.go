package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// rawTerminalControl returns what of s a terminal would act on: a C0
// control other than the line feed and the tab that output formats use,
// DEL, a C1 control, a bidirectional override, or a byte that is not UTF-8.
// (JUnit's U+FFFD, encoding/xml's stand-in for a control XML cannot hold,
// is shown as itself.)
func rawTerminalControl(s string) (string, bool) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || unsafeRune(r) || r == utf8.RuneError && n == 1) {
			return fmt.Sprintf("%q at byte %d: …%q…", s[i:i+n], i, s[max(0, i-40):min(len(s), i+40)]), true
		}
		i += n
	}
	return "", false
}

// TestE2EHostileAgentMessage: a host whose agent's claim message carries
// terminal escapes (the Cloud endpoint's errorMsgKey, repeated by the
// agent) reaches fleetclaim's record as it was, and no output of the real
// binary shows it raw: the table, json, jsonl, junit and markdown on
// stdout, the progress lines and --debug on stderr, the results file, the
// report and the history.
func TestE2EHostileAgentMessage(t *testing.T) {
	info := startLab(t, 2, "--personalities", "v2=1,v2+"+string(lab.FaultCloudHostile)+"=1")
	var hostileHost string
	for _, h := range info.Hosts {
		if h.Personality.Has(lab.FaultCloudHostile) {
			hostileHost = h.Name
		}
	}
	dir := t.TempDir()
	hist := filepath.Join(dir, "history")
	outputs := map[string]string{}
	for _, format := range []string{"table", "json", "jsonl", "junit", "markdown"} {
		results := filepath.Join(dir, format+".jsonl")
		r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--results", results, "--output", format,
			"--debug", "--retries", "0", "--wait", "5s", "--history", hist)
		if r.code != exitFailed {
			t.Fatalf("%s: exit %d, want %d\n%s", format, r.code, exitFailed, tail(r.stderr, 3000))
		}
		outputs["claim --output "+format+" stdout"] = r.stdout
		outputs["claim --output "+format+" stderr (progress, --debug)"] = r.stderr
		outputs["results file of --output "+format] = mustRead(t, results)
		if format == "table" {
			var msg string
			for _, rec := range readResults(t, results) {
				if rec.Host == hostileHost {
					msg = rec.Message
					if rec.Status != claim.StatusFailed {
						t.Errorf("%s: %s, want failed", hostileHost, rec.Status)
					}
				}
			}
			if !strings.Contains(msg, "\x1b]0;owned\x07") {
				t.Fatalf("the hostile host's record does not carry the agent's message as it was: %q", msg)
			}
			for _, rf := range []string{"table", "json", "junit", "markdown"} {
				rr := fleetclaim(t, nil, "report", "--results", results, "--output", rf)
				outputs["report --output "+rf] = rr.stdout + rr.stderr
			}
		}
	}
	h := fleetclaim(t, nil, "history", "--history", hist, hostileHost)
	if h.code != exitOK || !strings.Contains(h.stdout, hostileHost) {
		t.Fatalf("history: exit %d\n%s%s", h.code, h.stdout, h.stderr)
	}
	outputs["history HOST"] = h.stdout + h.stderr
	for what, out := range outputs {
		if at, bad := rawTerminalControl(out); bad {
			t.Errorf("%s shows a raw control %s", what, at)
		}
	}
}
