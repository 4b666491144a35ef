package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/lab"
)

// withHostSettings writes a copy of the lab's inventory in which the named
// hosts carry extra settings (YAML flow-mapping entries, e.g. "method:
// docker"), and returns its path.
func withHostSettings(t *testing.T, info *lab.Info, settings map[string]string) string {
	t.Helper()
	lines := strings.Split(mustRead(t, info.Inventory()), "\n")
	done := map[string]bool{}
	for i, l := range lines {
		for name, s := range settings {
			head := "      " + name + ": {"
			if !strings.HasPrefix(l, head) {
				continue
			}
			end := strings.Index(l, "}")
			lines[i] = l[:end] + ", " + s + l[end:]
			done[name] = true
		}
	}
	for name := range settings {
		if !done[name] {
			t.Fatalf("host %s is not in %s", name, info.Inventory())
		}
	}
	p := filepath.Join(t.TempDir(), "inventory.yml")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// hostsOf returns the lab hosts of a kind (and clone group, when cloned).
func hostsOf(info *lab.Info, kind lab.AgentKind, cloned bool) []lab.HostInfo {
	var out []lab.HostInfo
	for _, h := range info.Hosts {
		if h.Personality.Kind == kind && (h.Personality.CloneGroup != 0) == cloned {
			out = append(out, h)
		}
	}
	return out
}

func claimsByHost(t *testing.T, info *lab.Info) map[string]lab.Claim {
	t.Helper()
	claims, err := info.Claims(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]lab.Claim{}
	for _, c := range claims {
		out[c.Hostname] = c
	}
	return out
}

func resultsByHost(t *testing.T, path string) map[string]claim.Result {
	t.Helper()
	out := map[string]claim.Result{}
	for _, r := range readResults(t, path) {
		out[r.Host] = r
	}
	return out
}

// noToken fails the test when the claim token appears in any of texts.
func noToken(t *testing.T, token string, texts map[string]string) {
	t.Helper()
	for name, text := range texts {
		if strings.Contains(text, token) {
			t.Errorf("the claim token appears in %s", name)
		}
	}
}

// TestE2ELabMethods claims the lab's special hosts, each with its method,
// and checks what the lab Cloud recorded: agents in Docker containers
// (method docker, and auto), clones sharing a machine GUID (reported, not
// claimed; each its own node with --new-identity), a host without Netdata
// (kickstart from a pushed, sha256-pinned script, then claim.conf), and a
// distribution package built without Cloud (unsupported-install, with the
// paths the probe read).
func TestE2ELabMethods(t *testing.T) {
	info := startLab(t, 9, "--personalities", "docker=2,v2+cloned=3,none=1,distro=1")
	token, err := info.Token()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("docker", func(t *testing.T) {
		ds := hostsOf(info, lab.KindDocker, false)
		if len(ds) != 2 {
			t.Fatalf("%d docker hosts", len(ds))
		}
		// One host forced to docker, the other left to auto.
		inv := withHostSettings(t, info, map[string]string{ds[0].Name: "method: docker, docker_container: netdata"})
		results := filepath.Join(t.TempDir(), "results.jsonl")
		r := fleetclaim(t, nil, "claim", "-i", inv, "--limit", ds[0].Name+","+ds[1].Name, "--results", results, "--wait", "20s")
		if r.code != 0 {
			t.Fatalf("claim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		recs, cloud := resultsByHost(t, results), claimsByHost(t, info)
		texts := map[string]string{"stdout": r.stdout, "stderr": r.stderr, "results": mustRead(t, results)}
		for _, h := range ds {
			rec, c := recs[h.Name], cloud[h.Name]
			if rec.Status != claim.StatusClaimed || rec.Method != claim.MethodDocker {
				t.Errorf("%s: %s %s [%s] %s, want claimed with docker", h.Name, rec.Status, rec.Method, rec.Category, rec.Message)
				continue
			}
			if c.NodeID == "" || c.NodeID != rec.ClaimedID || c.MGUID != h.MachineGUID || !sameSet(c.Rooms, rec.Rooms) {
				t.Errorf("%s: lab Cloud has %+v; record: claimed id %s, rooms %v; container's machine GUID %s", h.Name, c, rec.ClaimedID, rec.Rooms, h.MachineGUID)
			}
			if rec.InstallType != "oci" {
				t.Errorf("%s: install type %q, want the image's oci", h.Name, rec.InstallType)
			}
			// The lab's container has its var lib dir on a volume (lab/docker.go).
			for _, w := range rec.Warnings {
				if strings.Contains(w, "not on a volume") {
					t.Errorf("%s: %s", h.Name, w)
				}
			}
			argv := mustRead(t, filepath.Join(h.Prefix, "var/log/lab-docker-argv.log"))
			if !strings.Contains(argv, "ps --format") || !strings.Contains(argv, "exec -i netdata sh -c") {
				t.Errorf("%s: docker was not asked what a claim needs:\n%s", h.Name, argv)
			}
			texts[h.Name+" docker argv"] = argv
			conf := mustRead(t, filepath.Join(h.Prefix, "var/lib/lab-docker/containers/netdata/etc/netdata/claim.conf"))
			if !strings.Contains(conf, "token = "+token) {
				t.Errorf("%s: claim.conf in the container has no token line", h.Name)
			}
		}
		noToken(t, token, texts)
	})

	t.Run("cloned", func(t *testing.T) {
		clones := hostsOf(info, lab.KindV2, true)
		if len(clones) != 3 {
			t.Fatalf("%d clones", len(clones))
		}
		names := make([]string, len(clones))
		for i, h := range clones {
			names[i] = h.Name
			if h.MachineGUID != clones[0].MachineGUID {
				t.Fatalf("clones %s and %s have different machine GUIDs", h.Name, clones[0].Name)
			}
		}
		limit := strings.Join(names, ",")
		results := filepath.Join(t.TempDir(), "results.jsonl")
		r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--limit", limit, "--results", results, "--wait", "20s")
		if r.code == 0 {
			t.Fatalf("claim of three clones exited 0\n%s", r.stdout)
		}
		recs, cloud := resultsByHost(t, results), claimsByHost(t, info)
		var first string
		for _, h := range clones {
			if recs[h.Name].Status == claim.StatusClaimed {
				if first != "" {
					t.Fatalf("two clones claimed: %s and %s", first, h.Name)
				}
				first = h.Name
			}
		}
		if first == "" {
			t.Fatalf("no clone claimed: %+v", recs)
		}
		if c := cloud[first]; c.MGUID != clones[0].MachineGUID || c.NodeID != recs[first].ClaimedID {
			t.Errorf("%s: lab Cloud has %+v, record claimed id %s", first, c, recs[first].ClaimedID)
		}
		for _, h := range clones {
			if h.Name == first {
				continue
			}
			rec := recs[h.Name]
			if rec.Status != claim.StatusFailed || rec.Category != claim.CatDuplicateGUID || rec.DuplicateOf != first ||
				!strings.Contains(rec.Message, first) || !strings.Contains(rec.Message, h.MachineGUID) || rec.Remedy == "" {
				t.Errorf("%s: %+v, want duplicate-machine-guid naming %s", h.Name, rec, first)
			}
			if _, ok := cloud[h.Name]; ok {
				t.Errorf("%s: a clone reached the lab Cloud", h.Name)
			}
		}
		// The run's summary lists the clones together.
		summary := ""
		for _, l := range strings.Split(r.stdout+r.stderr, "\n") {
			if strings.Contains(l, "duplicate-machine-guid (2): ") {
				summary = l
			}
		}
		for _, h := range clones {
			if h.Name != first && !strings.Contains(summary, h.Name) {
				t.Errorf("the summary does not report clone %s with the others: %q\n%s%s", h.Name, summary, r.stdout, r.stderr)
			}
		}

		// With --new-identity every clone ends up its own node.
		results = filepath.Join(t.TempDir(), "results2.jsonl")
		r = fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--limit", limit, "--new-identity", "--results", results, "--wait", "20s")
		if r.code != 0 {
			t.Fatalf("claim --new-identity: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		recs, cloud = resultsByHost(t, results), claimsByHost(t, info)
		guids, nodes := map[string]string{}, map[string]string{}
		dups := 0
		for _, h := range clones {
			rec, c := recs[h.Name], cloud[h.Name]
			if rec.Status == claim.StatusFailed || c.NodeID == "" || c.NodeID != rec.ClaimedID {
				t.Errorf("%s: %s [%s] %s; lab Cloud: %+v", h.Name, rec.Status, rec.Category, rec.Message, c)
				continue
			}
			if rec.DuplicateOf != "" {
				dups++
			}
			if other, ok := guids[c.MGUID]; ok {
				t.Errorf("%s and %s are in the lab Cloud with one machine GUID %s", h.Name, other, c.MGUID)
			}
			if other, ok := nodes[c.NodeID]; ok {
				t.Errorf("%s and %s share node %s", h.Name, other, c.NodeID)
			}
			guids[c.MGUID], nodes[c.NodeID] = h.Name, h.Name
		}
		if dups != 2 {
			t.Errorf("%d clones were given a new identity, want 2", dups)
		}
	})

	t.Run("kickstart", func(t *testing.T) {
		bare := hostsOf(info, lab.KindNone, false)
		if len(bare) != 1 {
			t.Fatalf("%d hosts without Netdata", len(bare))
		}
		h := bare[0]
		script := filepath.Join(info.Dir, "kickstart.sh")
		sum := sha256.Sum256([]byte(mustRead(t, script)))
		pin := hex.EncodeToString(sum[:])

		// A wrong pin: refused before anything reaches the host.
		wrong := withHostSettings(t, info, map[string]string{h.Name: "kickstart: {script_file: " + script + ", script_sha256: " + strings.Repeat("0", 64) + "}"})
		r := fleetclaim(t, nil, "claim", "-i", wrong, "--limit", h.Name, "--output", "jsonl", "--wait", "20s")
		if r.code == 0 || !strings.Contains(r.stdout, `"category":"invalid-value"`) {
			t.Fatalf("wrong sha256 pin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(h.Prefix, "opt/netdata")); !os.IsNotExist(err) {
			t.Fatalf("an agent was installed with a wrong pin (%v)", err)
		}

		inv := withHostSettings(t, info, map[string]string{h.Name: "kickstart: {script_file: " + script + ", script_sha256: " + pin + "}"})
		results := filepath.Join(t.TempDir(), "results.jsonl")
		r = fleetclaim(t, nil, "claim", "-i", inv, "--limit", h.Name, "--results", results, "--wait", "20s")
		if r.code != 0 {
			t.Fatalf("claim: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		rec, c := resultsByHost(t, results)[h.Name], claimsByHost(t, info)[h.Name]
		if rec.Status != claim.StatusClaimed || rec.Method != claim.MethodKickstart || rec.InstallType != "kickstart-static" {
			t.Fatalf("%+v", rec)
		}
		guid := strings.TrimSpace(mustRead(t, filepath.Join(h.Prefix, "opt/netdata/var/lib/netdata/registry/netdata.public.unique.id")))
		if c.NodeID == "" || c.NodeID != rec.ClaimedID || c.MGUID != guid || rec.MachineGUID != guid || !sameSet(c.Rooms, rec.Rooms) {
			t.Errorf("lab Cloud has %+v; record %+v; the new agent's machine GUID %s", c, rec, guid)
		}
		noToken(t, token, map[string]string{"stdout": r.stdout, "stderr": r.stderr, "results": mustRead(t, results)})
	})

	t.Run("distribution package without Cloud", func(t *testing.T) {
		ds := hostsOf(info, lab.KindDistro, false)
		if len(ds) != 1 {
			t.Fatalf("%d distro hosts", len(ds))
		}
		h := ds[0]
		results := filepath.Join(t.TempDir(), "results.jsonl")
		r := fleetclaim(t, nil, "claim", "-i", info.Inventory(), "--limit", h.Name, "--results", results)
		if r.code == 0 {
			t.Fatalf("claim of an agent without Cloud exited 0\n%s", r.stdout)
		}
		rec := resultsByHost(t, results)[h.Name]
		if rec.Status != claim.StatusFailed || rec.Category != claim.CatUnsupportedInstall || !strings.Contains(rec.Remedy, "kickstart") {
			t.Fatalf("%+v", rec)
		}
		for _, want := range []string{"1.37.1", "distribution/third-party package", filepath.Join(h.Prefix, "usr/sbin/netdata"),
			filepath.Join(h.Prefix, "etc/netdata"), filepath.Join(h.Prefix, "var/lib/netdata"), "run as " + info.User} {
			if !strings.Contains(rec.Message, want) {
				t.Errorf("message %q does not name %q", rec.Message, want)
			}
		}
		if rec.AgentVersion != "1.37.1" || rec.RunAsUser != info.User {
			t.Errorf("record: version %q, run as %q", rec.AgentVersion, rec.RunAsUser)
		}
		if _, ok := claimsByHost(t, info)[h.Name]; ok {
			t.Error("an agent without Cloud reached the lab Cloud")
		}
		if _, err := os.Stat(filepath.Join(h.Prefix, "etc/netdata/claim.conf")); !os.IsNotExist(err) {
			t.Errorf("claim.conf written on an agent without Cloud (%v)", err)
		}
	})
}
