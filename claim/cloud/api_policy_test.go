package cloud

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
)

// TestCloudAPIRefusesPlainHTTP: the API token goes in an Authorization
// header: over an http url it would cross the network in clear. The client
// is refused, and nothing is sent.
func TestCloudAPIRefusesPlainHTTP(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	api, err := NewAPI(srv.URL, inventory.NewSecret(testAPIToken), APIOptions{})
	if err == nil {
		api.Spaces(context.Background())
	}
	if err == nil || claim.CategoryOf(err) != claim.CatCloudAPI || !strings.Contains(err.Error(), "http") || !strings.Contains(err.Error(), "api_insecure") {
		t.Errorf("an http url: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 0 {
		t.Errorf("the API token was sent over http: %q", seen)
	}
}

// TestCloudAPIRefusesUnverifiedTLS: insecure (the agent's setting, which
// the API client shares the url with) would send the token to whoever
// answers; refused too.
func TestCloudAPIRefusesUnverifiedTLS(t *testing.T) {
	_, err := NewAPI("https://cloud.example", inventory.NewSecret(testAPIToken), APIOptions{Insecure: true})
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "api_insecure") {
		t.Errorf("insecure: %v", err)
	}
}

// TestCloudAPIRefusesRedirectToHTTP: a verified https Cloud that redirects
// to http does not get the token sent there (Go's client keeps the
// Authorization header on a redirect to the same host).
func TestCloudAPIRefusesRedirectToHTTP(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte(`[]`))
	}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusFound)
	}))
	defer tlsSrv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	api, err := NewAPI(tlsSrv.URL, inventory.NewSecret(testAPIToken), APIOptions{CAFile: ca, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.Spaces(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if err == nil || len(leaked) != 0 {
		t.Errorf("redirect to http: err %v, Authorization seen there: %q", err, leaked)
	}
}
