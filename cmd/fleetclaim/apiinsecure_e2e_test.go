package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// countAPIRequests counts the lab Cloud's API requests (the Spaces list
// every run with an API token starts with).
func countAPIRequests(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cloud-requests.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), " GET /api/v3/spaces ")
}

// TestE2EAPITokenNeedsVerifiedTLS: insecure: yes (the agent's setting) no
// longer makes fleetclaim send the Cloud API token to an unverified
// server: the Cloud-side proof is skipped with a warning that names
// api_insecure, and the lab Cloud sees no API request. api_insecure: yes
// or --api-insecure accept the risk by name, and the proof runs.
func TestE2EAPITokenNeedsVerifiedTLS(t *testing.T) {
	info := startLab(t, 1)
	inv := filepath.Join(info.Dir, "inventory.yml")
	if !strings.Contains(mustRead(t, inv), "api_token_file:") {
		t.Fatal("the lab inventory names no API token")
	}
	base := []string{"verify", "-i", inv, "--no-progress", "--no-history", "--set", "insecure=yes"}
	before := countAPIRequests(t, info.Dir)
	r := fleetclaim(t, nil, base...)
	if n := countAPIRequests(t, info.Dir); n != before {
		t.Errorf("insecure: yes: the API token went to the Cloud without verification (%d API requests)\n%s", n-before, r.stderr)
	}
	if !strings.Contains(r.stderr, "without verifying its certificate") || !strings.Contains(r.stderr, "api_insecure") {
		t.Errorf("insecure: yes: no warning naming api_insecure:\n%s", r.stderr)
	}
	for _, accept := range [][]string{{"--set", "api_insecure=yes"}, {"--api-insecure"}} {
		before = countAPIRequests(t, info.Dir)
		r = fleetclaim(t, nil, append(append([]string{}, base...), accept...)...)
		if n := countAPIRequests(t, info.Dir); n == before || strings.Contains(r.stderr, "not sending the API token") {
			t.Errorf("%v: the Cloud API was not used (%d requests)\n%s", accept, n-before, r.stderr)
		}
	}
}
