package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
)

// hostile is a value built to break out of any shell quoting: command
// substitutions, backticks, both quotes, separators, a glob, a backslash and
// a leading dash. Its commands would create files named PWN* in the remote
// shell's working directory (the lab host's prefix) if they ever ran.
const hostile = "-x $(touch PWN1) `touch PWN2` ; touch PWN3 && touch PWN4 | 'q' \"d\" \\ *"

// TestE2EHostileValues drives hostile values through the real claim path
// against lab hosts, one host per value: each either reaches the host
// literally (the agent is found through a prefix with that name) or is
// refused with a clear error naming where it is written, before any host is
// contacted; no injected command ever runs.
func TestE2EHostileValues(t *testing.T) {
	info := startLab(t, 8)
	h := info.Hosts
	// A prefix with a hostile name: a symlink to the host's own prefix, so
	// the agent is found only if the probe got the exact path.
	evil := filepath.Join(h[0].Prefix, "evil "+strings.ReplaceAll(hostile, "/", "_"))
	if err := os.Symlink(".", evil); err != nil {
		t.Fatal(err)
	}
	// A prefix of every character a prefix may hold reaches the probe as it is.
	odd := filepath.Join(h[7].Prefix, "odd_-.+@,=prefix")
	if err := os.Symlink(".", odd); err != nil {
		t.Fatal(err)
	}
	nonUTF8 := "p-\xff\xfe-$(touch PWN5)"
	cases := []struct {
		name    string
		host    int
		setting string   // added to the host's inventory line
		prefix  string   // replaces the host's netdata_prefix
		noSpace bool     // drop the lab's Space (room names looked up through the Cloud API)
		refusal string   // what the error says when the run is refused (exit 2)
		set     []string // --set overrides (raw bytes, which YAML cannot carry)
		// confLine is the claim.conf line the value must appear in, literally.
		confLine string
		status   claim.Status
		cat      claim.Category
		exit     int
	}{
		// Values that reach Netdata's own scripts, which eval or word-split
		// them (netdata-claim.sh v1, kickstart.sh), are refused outright.
		{name: "prefix", host: 0, prefix: evil, refusal: "netdata_prefix: ", exit: 2},
		// Room names are looked up in the Space before any host is contacted.
		{name: "rooms", host: 1, setting: "rooms: [" + strconv.Quote(hostile) + ", '-rf']",
			refusal: "no room named " + strconv.Quote(hostile), exit: 2},
		{name: "proxy", host: 2, setting: "proxy: " + strconv.Quote("http://127.0.0.1:1/"+hostile),
			refusal: "proxy: want none, env or a proxy URL", exit: 2},
		{name: "url", host: 3, noSpace: true, setting: "rooms: [" + info.Rooms[0].ID + "], url: " + strconv.Quote("https://127.0.0.1:1/"+hostile),
			refusal: "url: \"https://127.0.0.1:1/-x $(touch PWN1)", exit: 2},
		{name: "room with a newline", host: 4, setting: "rooms: [" + strconv.Quote("r1\n[global]\n    url = https://evil.example") + "]",
			refusal: "must be a single line", exit: 2},
		{name: "non-UTF-8 proxy", host: 5, set: []string{"proxy=http://127.0.0.1:1/" + nonUTF8},
			refusal: "--set: proxy: want none, env or a proxy URL", exit: 2},
		{name: "odd but safe prefix", host: 7, prefix: odd, status: claim.StatusClaimed, exit: 0},
		{name: "prefix with a NUL", host: 6, prefix: "/opt/a\x00b", refusal: "NUL byte", exit: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := h[tc.host]
			inv := info.Inventory()
			if tc.setting != "" {
				inv = withHostSettingIn(t, inv, tc.setting, host.Name)
			}
			if tc.noSpace {
				var kept []string
				for _, l := range strings.Split(mustRead(t, inv), "\n") {
					if !strings.HasPrefix(l, "  space:") && !strings.HasPrefix(l, "  api_token_file:") {
						kept = append(kept, l)
					}
				}
				inv = filepath.Join(t.TempDir(), "inventory.yml")
				if err := os.WriteFile(inv, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.prefix != "" {
				text := mustRead(t, inv)
				old := "netdata_prefix: " + host.Prefix + "}"
				if !strings.Contains(text, old) {
					t.Fatalf("no %q in the lab inventory", old)
				}
				text = strings.Replace(text, old, "netdata_prefix: "+strconv.Quote(tc.prefix)+"}", 1)
				inv = filepath.Join(t.TempDir(), "inventory.yml")
				if err := os.WriteFile(inv, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"claim", "-i", inv, "--limit", host.Name, "--output", "json", "--wait", "3s", "--retries", "0", "--no-history"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			r := fleetclaim(t, nil, args...)
			if r.code != tc.exit {
				t.Fatalf("exit %d, want %d\n%s\n%s", r.code, tc.exit, r.stdout, r.stderr)
			}
			conf := filepath.Join(host.Prefix, "opt", "netdata", "etc", "netdata", "claim.conf")
			if tc.exit == 2 {
				where := "inventory.yml:"
				if tc.set != nil {
					where = "--set: "
				}
				if !strings.Contains(r.stderr, tc.refusal) || !strings.Contains(r.stderr, where) || !strings.Contains(r.stderr, "nothing was contacted") {
					t.Errorf("refusal does not say why:\n%s", r.stderr)
				}
				if _, err := os.Stat(conf); !os.IsNotExist(err) {
					t.Errorf("claim.conf written after a refusal")
				}
				return
			}
			var recs []claim.Result
			if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 1 {
				t.Fatalf("records: %v\n%s", err, r.stdout)
			}
			rec := recs[0]
			if rec.Status != tc.status || tc.cat != "" && rec.Category != tc.cat {
				t.Errorf("%s/%s %q, want %s/%s", rec.Status, rec.Category, rec.Message, tc.status, tc.cat)
			}
			b, err := os.ReadFile(conf)
			switch {
			case tc.confLine != "":
				if err != nil || !strings.Contains(string(b), "\n"+tc.confLine+"\n") {
					t.Errorf("claim.conf lacks %q literally (%v):\n%s", tc.confLine, err, b)
				}
			}
		})
	}
	// No injected command ran anywhere in the lab.
	filepath.WalkDir(info.Dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "PWN") {
			t.Errorf("an injected command ran: %s exists", p)
		}
		return nil
	})
}
