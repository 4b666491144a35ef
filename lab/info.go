package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Info is what a lab writes to DIR/lab.json: enough for a test in another
// package to drive fleetclaim against the lab and check the outcome.
type Info struct {
	PID      int        `json:"pid"`
	Dir      string     `json:"dir"`
	User     string     `json:"user"`
	CloudURL string     `json:"cloud_url"`
	SpaceID  string     `json:"space_id"`
	Rooms    []Room     `json:"rooms"`
	Socket   string     `json:"socket"`
	Started  time.Time  `json:"started"`
	Hosts    []HostInfo `json:"hosts"`
}

// HostInfo is one lab host.
type HostInfo struct {
	Name        string      `json:"name"`
	Address     string      `json:"address"`
	Port        int         `json:"port"`
	WebPort     int         `json:"web_port,omitempty"` // the agent's own TCP web port (TCPWeb), 0 without
	Prefix      string      `json:"prefix"`
	Group       string      `json:"group"`
	Personality Personality `json:"personality"`
	MachineGUID string      `json:"machine_guid"`
}

// ReadInfo reads DIR/lab.json.
func ReadInfo(dir string) (*Info, error) {
	data, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return nil, fmt.Errorf("read lab info: %w", err)
	}
	var i Info
	if err := json.Unmarshal(data, &i); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "lab.json"), err)
	}
	return &i, nil
}

// Paths of the files the lab writes for clients.
func (i *Info) Inventory() string    { return filepath.Join(i.Dir, "inventory.yml") }
func (i *Info) KnownHosts() string   { return filepath.Join(i.Dir, "known_hosts") }
func (i *Info) IdentityFile() string { return filepath.Join(i.Dir, "id_ed25519") }
func (i *Info) TokenFile() string    { return filepath.Join(i.Dir, "token") }
func (i *Info) CAFile() string       { return filepath.Join(i.Dir, "cloud-ca.pem") }

// APITokenFile holds a Cloud API token with full access; APIReadOnlyTokenFile
// one that may only read (writes get 403).
func (i *Info) APITokenFile() string         { return filepath.Join(i.Dir, "api-token") }
func (i *Info) APIReadOnlyTokenFile() string { return filepath.Join(i.Dir, "api-token-readonly") }

// Token reads the lab Cloud's claim token.
func (i *Info) Token() (string, error) {
	data, err := os.ReadFile(i.TokenFile())
	if err != nil {
		return "", fmt.Errorf("read lab token: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// Host returns the named host.
func (i *Info) Host(name string) (HostInfo, bool) {
	for _, h := range i.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return HostInfo{}, false
}

// RoomID returns the id of the named room.
func (i *Info) RoomID(name string) string {
	for _, r := range i.Rooms {
		if r.Name == name {
			return r.ID
		}
	}
	return ""
}

// Claims asks the lab Cloud which nodes it has claimed (the current claim of
// each machine GUID), trusting only the lab's CA.
func (i *Info) Claims(ctx context.Context) ([]Claim, error) {
	return i.claims(ctx, "")
}

// ClaimHistory is every claim the lab Cloud accepted, including replaced ones.
func (i *Info) ClaimHistory(ctx context.Context) ([]Claim, error) {
	return i.claims(ctx, "?all=1")
}

func (i *Info) claims(ctx context.Context, query string) ([]Claim, error) {
	var out []Claim
	if err := i.getJSON(ctx, "/lab/claims"+query, &out); err != nil {
		return nil, fmt.Errorf("lab claims: %w", err)
	}
	return out, nil
}

// Stats asks the running lab what it has served since it started.
func (i *Info) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	if err := i.getJSON(ctx, "/lab/stats", &s); err != nil {
		return Stats{}, fmt.Errorf("lab stats: %w", err)
	}
	return s, nil
}

// getJSON reads a lab Cloud endpoint, trusting only the lab's CA.
func (i *Info) getJSON(ctx context.Context, path string, out any) error {
	pem, err := os.ReadFile(i.CAFile())
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return errors.New("no certificate in " + i.CAFile())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, i.CloudURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
