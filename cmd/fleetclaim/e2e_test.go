package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/lab"
)

// binPath is the fleetclaim binary built once for the end-to-end tests: they
// run the real binary against the lab's real SSH servers. labBinPath is the
// fleetlab binary that runs those labs.
var binPath, labBinPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fleetclaim-e2e-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "fleetclaim")
	labBinPath = filepath.Join(dir, "fleetlab")
	for bin, pkg := range map[string]string{binPath: ".", labBinPath: "../fleetlab"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			os.Stderr.Write(out)
			panic(err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type runResult struct {
	stdout, stderr string
	code           int
}

// fleetclaim runs the binary with args and an isolated environment.
func fleetclaim(t *testing.T, env []string, args ...string) runResult {
	t.Helper()
	return runBinary(t, binPath, env, args...)
}

// fleetlab runs the lab's binary as fleetclaim runs fleetclaim's.
func fleetlab(t *testing.T, args ...string) runResult {
	t.Helper()
	return runBinary(t, labBinPath, nil, args...)
}

func runBinary(t *testing.T, bin string, env []string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	}
	return runResult{out.String(), errb.String(), code}
}

// startLab starts a lab of n hosts with the real fleetlab binary and stops it
// when the test ends.
func startLab(t *testing.T, n int, extra ...string) *lab.Info {
	t.Helper()
	dir, err := os.MkdirTemp("", "fclab")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"up", "--hosts", strconv.Itoa(n), "--dir", dir}, extra...)
	r := fleetlab(t, args...)
	if r.code != 0 {
		t.Fatalf("lab up: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Cleanup(func() {
		fleetlab(t, "down", "--dir", dir)
		os.RemoveAll(dir)
	})
	info, err := lab.ReadInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func readResults(t *testing.T, path string) []claim.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []claim.Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r claim.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("results line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func countPUTs(t *testing.T, info *lab.Info) int {
	b, err := os.ReadFile(filepath.Join(info.Dir, "cloud-requests.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), " PUT /api/v1/spaces/nodes/")
}

// TestE2EClaimLabFleet is the whole path: 20 lab hosts in three groups are
// claimed into their groups' rooms, as the lab Cloud's own record shows; a
// second run changes nothing.
func TestE2EClaimLabFleet(t *testing.T) {
	info := startLab(t, 20)
	token, err := info.Token()
	if err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(t.TempDir(), "results.jsonl")
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--results", results, "--forks", "8")
	if r.code != 0 {
		t.Fatalf("claim: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	// What Cloud accepted: every host, once, in its group's rooms.
	inv, err := inventory.Load(info.Inventory(), inventory.LoadOptions{SSHConfig: "none"})
	if err != nil {
		t.Fatal(err)
	}
	wantRooms := map[string][]string{}
	for _, h := range inv.Hosts {
		// The lab inventory names its rooms: the claim carries their ids.
		var rooms []string
		for _, r := range h.Claim.Rooms {
			if !inventory.IsRoomID(r) {
				r = info.RoomID(r)
			}
			rooms = append(rooms, r)
		}
		sort.Strings(rooms)
		wantRooms[h.Name] = rooms
	}
	groups := map[string]bool{}
	for _, h := range info.Hosts {
		groups[h.Group] = true
	}
	if len(groups) < 3 {
		t.Fatalf("lab hosts are in %d groups, want at least 3", len(groups))
	}
	claims, err := info.Claims(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 20 {
		t.Fatalf("lab Cloud has %d claims, want 20", len(claims))
	}
	byHost := map[string]lab.Claim{}
	for _, c := range claims {
		byHost[c.Hostname] = c
	}
	recs := readResults(t, results)
	if len(recs) != 20 {
		t.Fatalf("results file has %d records, want 20", len(recs))
	}
	for _, rec := range recs {
		c, ok := byHost[rec.Host]
		if !ok {
			t.Errorf("%s: no claim in the lab Cloud", rec.Host)
			continue
		}
		got := slices.Clone(c.Rooms)
		sort.Strings(got)
		if !slices.Equal(got, wantRooms[rec.Host]) {
			t.Errorf("%s: claimed into rooms %v, want %v", rec.Host, got, wantRooms[rec.Host])
		}
		if rec.Status != claim.StatusClaimed || rec.ClaimedID != c.NodeID || rec.Online == nil || !*rec.Online {
			t.Errorf("%s: record %+v does not match the Cloud's node %s", rec.Host, rec, c.NodeID)
		}
		if rec.Address == "" || len(rec.Groups) == 0 || rec.Method != claim.MethodClaimConf || rec.Category != "" {
			t.Errorf("%s: incomplete record %+v", rec.Host, rec)
		}
	}
	for name, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "results": mustRead(t, results)} {
		if strings.Contains(text, token) {
			t.Errorf("the claim token appears in %s", name)
		}
	}
	puts := countPUTs(t, info)

	// The same claim again: nothing changes, no claim request reaches Cloud.
	again := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--output", "jsonl")
	if again.code != 0 {
		t.Fatalf("second claim: exit %d\n%s", again.code, again.stderr)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(again.stdout), "\n") {
		var rec claim.Result
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("jsonl line %q: %v", line, err)
		}
		if rec.Status != claim.StatusAlreadyClaimed {
			t.Errorf("second run: %s is %s, want already-claimed", rec.Host, rec.Status)
		}
		n++
	}
	if n != 20 {
		t.Fatalf("second run printed %d records", n)
	}
	if got := countPUTs(t, info); got != puts {
		t.Fatalf("the second run sent %d claim requests to Cloud", got-puts)
	}
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestE2EOutputsParse checks that every output format is what a real parser
// accepts, and that plan changes nothing.
func TestE2EOutputsParse(t *testing.T) {
	info := startLab(t, 6)
	plan := fleetclaim(t, nil, "plan", "-i", info.Inventory(), "--output", "json")
	if plan.code != 0 {
		t.Fatalf("plan: %d %s", plan.code, plan.stderr)
	}
	var planned []claim.Result
	if err := json.Unmarshal([]byte(plan.stdout), &planned); err != nil {
		t.Fatalf("plan json: %v", err)
	}
	for _, p := range planned {
		if p.Status != claim.StatusPlanned || len(p.Plan) == 0 {
			t.Fatalf("plan record %+v", p)
		}
	}
	if c, _ := info.Claims(context.Background()); len(c) != 0 {
		t.Fatalf("plan claimed %d nodes", len(c))
	}

	junit := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--output", "junit", "--limit", "lab-001,lab-002")
	if junit.code != 0 {
		t.Fatalf("claim junit: %d %s", junit.code, junit.stderr)
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Tests   int      `xml:"tests,attr"`
		Suites  []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(junit.stdout), &doc); err != nil {
		t.Fatalf("junit: %v\n%s", err, junit.stdout)
	}
	if doc.Tests != 2 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 2 || doc.Suites[0].Cases[0].Failure != nil {
		t.Fatalf("junit document: %+v", doc)
	}

	md := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--output", "markdown")
	if md.code != 0 || !strings.Contains(md.stdout, "| already-claimed | 2 |") || !strings.Contains(md.stdout, "| claimed | 4 |") {
		t.Fatalf("markdown: %d\n%s", md.code, md.stdout)
	}
}

// TestE2EBadInventoryTouchesNothing: exit 2, errors with file and line, and
// not one connection.
func TestE2EBadInventoryTouchesNothing(t *testing.T) {
	info := startLab(t, 2)
	bad := filepath.Join(t.TempDir(), "bad.yml")
	inv := mustRead(t, info.Inventory())
	inv = strings.Replace(inv, "defaults:\n", "defaults:\n  romos: [x]\n", 1)
	os.WriteFile(bad, []byte(inv), 0o644)
	r := fleetclaim(t, nil, "claim", "-i", bad)
	if r.code != 2 || !strings.Contains(r.stderr, "bad.yml:") || !strings.Contains(r.stderr, "romos") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	written, _ := filepath.Glob(filepath.Join(info.Dir, "hosts", "*", "opt", "netdata", "etc", "netdata", "claim.conf"))
	if len(written) != 0 || countPUTs(t, info) != 0 {
		t.Fatalf("a host was changed despite the bad inventory: %v", written)
	}
	unset := filepath.Join(t.TempDir(), "unset.yml")
	inv = mustRead(t, info.Inventory())
	inv = strings.Replace(inv, "  token_file: "+info.TokenFile()+"\n", "  token_env: FLEETCLAIM_UNSET_VAR\n", 1)
	os.WriteFile(unset, []byte(inv), 0o644)
	noToken := fleetclaim(t, nil, "claim", "-i", unset)
	if noToken.code != 2 || !strings.Contains(noToken.stderr, "FLEETCLAIM_UNSET_VAR") {
		t.Fatalf("unset token env: exit %d\n%s", noToken.code, noToken.stderr)
	}
}

// TestE2ERefusedRunWritesNothing: a run refused for its input (a sudo
// password file that is not there, a debug file that cannot be opened)
// leaves an earlier results file as it was and records no history.
func TestE2ERefusedRunWritesNothing(t *testing.T) {
	info := startLab(t, 2)
	dir := t.TempDir()
	results := filepath.Join(dir, "results.jsonl")
	history := filepath.Join(dir, "history")
	const earlier = "{\"host\":\"from an earlier run\"}\n"
	noSudo := filepath.Join(dir, "no-sudo.yml")
	inv := strings.Replace(mustRead(t, info.Inventory()), "defaults:\n", "defaults:\n  sudo_password_file: "+filepath.Join(dir, "missing-password")+"\n", 1)
	os.WriteFile(noSudo, []byte(inv), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"sudo password file missing", []string{"claim", "-i", noSudo}, "missing-password"},
		{"debug file unopenable", []string{"claim", "-i", info.Inventory(), "--debug-file", filepath.Join(dir, "no-such-dir", "debug.log")}, "debug file"},
		{"retry file unwritable", []string{"claim", "-i", info.Inventory(), "--retry-file", filepath.Join(dir, "no-such-dir", "retry.txt")}, "retry file"},
	}
	for _, c := range cases {
		if err := os.WriteFile(results, []byte(earlier), 0o644); err != nil {
			t.Fatal(err)
		}
		r := fleetclaim(t, nil, append(c.args, "--results", results, "--history", history)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Fatalf("%s: exit %d, stderr:\n%s", c.name, r.code, r.stderr)
		}
		if got := mustRead(t, results); got != earlier {
			t.Errorf("%s: the results file became %q", c.name, got)
		}
		if entries, _ := os.ReadDir(history); len(entries) != 0 {
			t.Errorf("%s: history recorded %d entries", c.name, len(entries))
		}
	}
	if n := countPUTs(t, info); n != 0 {
		t.Fatalf("%d claims reached the lab Cloud", n)
	}
}

// TestE2EProxyWrittenToNetdataConf: a group's proxy goes into claim.conf and
// into netdata.conf's [cloud] section, keeping the rest of that file.
func TestE2EProxyWrittenToNetdataConf(t *testing.T) {
	info := startLab(t, 2)
	h := info.Hosts[0]
	nc := filepath.Join(h.Prefix, "opt", "netdata", "etc", "netdata", "netdata.conf")
	before := mustRead(t, nc)
	r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--limit", h.Name, "--set", "proxy=none")
	if r.code != 0 {
		t.Fatalf("claim: %d\n%s", r.code, r.stderr)
	}
	after := mustRead(t, nc)
	if !strings.Contains(after, "[cloud]\n    proxy = none\n") {
		t.Fatalf("netdata.conf has no [cloud] proxy:\n%s", after)
	}
	for _, l := range strings.Split(strings.TrimSpace(before), "\n") {
		if !strings.Contains(after, l) {
			t.Fatalf("netdata.conf lost %q", l)
		}
	}
	conf := mustRead(t, filepath.Join(h.Prefix, "opt", "netdata", "etc", "netdata", "claim.conf"))
	if !strings.Contains(conf, "    proxy = none\n") {
		t.Fatalf("claim.conf:\n%s", conf)
	}
}
