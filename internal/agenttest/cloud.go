package agenttest

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Answer is what the stand-in Cloud answers to a claim request.
type Answer struct {
	// Status is the HTTP status; Key, when set, is the errorMsgKey of the
	// JSON body.
	Status int
	Key    string
}

// The answers Netdata Cloud gives to a claim request, as Netdata's own
// clients read them:
//   - v1: claim/netdata-claim.sh.in at v1.37.1, lines 16-86 (the table of
//     statuses, error keys and exit codes) and 371-389 (exit code from the
//     body's errorMsgKey, success only on HTTP 204);
//   - v2: src/claim/claim-with-api.c at v2.11.0, lines 379-453 (204 claims;
//     422 reads errorMsgKey; 102, 403, 409 final; 500, 503, 504 and any
//     other status retried).
var (
	Answer204          = Answer{Status: http.StatusNoContent}                                // v1 :16-18, v2 :379
	AnswerInvalidID    = Answer{Status: 422, Key: "ErrInvalidNodeID"}                        // v1 :26-30, v2 :402-403
	AnswerInvalidName  = Answer{Status: 422, Key: "ErrInvalidNodeName"}                      // v1 :32-36, v2 :404-405
	AnswerInvalidRoom  = Answer{Status: 422, Key: "ErrInvalidRoomID"}                        // v1 :38-42, v2 :406-407
	AnswerInvalidKey   = Answer{Status: 422, Key: "ErrInvalidPublicKey"}                     // v1 :44-48, v2 :408-409
	AnswerForbidden    = Answer{Status: http.StatusForbidden, Key: "ErrForbidden"}           // v1 :50-54, v2 :430-431
	AnswerConflict     = Answer{Status: http.StatusConflict, Key: "ErrAlreadyClaimed"}       // v1 :56-60, v2 :434-435
	AnswerInternal     = Answer{Status: 500, Key: "ErrInternalServerError"}                  // v1 :68-72, v2 :438-439
	AnswerGateway      = Answer{Status: http.StatusGatewayTimeout, Key: "ErrGatewayTimeout"} // v1 :74-78, v2 :446-447
	AnswerUnavailable  = Answer{Status: 503, Key: "ErrServiceUnavailable"}                   // v1 :80-84, v2 :442-443
	AnswerUnknown422   = Answer{Status: 422}                                                 // v1 :20-24 (no key: exit 7), v2 :414
	AnswerProcessing   = Answer{Status: 500, Key: "ErrProcessingClaim"}                      // v1 :62-66, :379 (exit 14 from the key alone)
	AnswerUnknownError = Answer{Status: 422, Key: "ErrSomethingNew"}                         // v1 :383 (exit 7), v2 :411
)

// ClaimRequest is a claim request the stand-in received.
type ClaimRequest struct {
	Method, Path string
	Body         map[string]any
	Raw          string
	Status       int
}

// Cloud is a stand-in for Netdata Cloud's claim endpoint: HTTPS on
// 127.0.0.1 with a self-signed certificate (CAFile), answering every PUT
// to /api/v1/spaces/nodes/{id} with the Answer set for it.
type Cloud struct {
	URL string
	// CAFile holds the server's certificate (PEM), which is its own CA:
	// what an inventory's ca_file names.
	CAFile string

	srv    *httptest.Server
	mu     sync.Mutex
	answer Answer
	reqs   []ClaimRequest
	// link: serve the Agent-Cloud Link (aclk.go).
	link       bool
	keys       map[string]string // claimed id: the public key it was claimed with
	challenges map[string]string // claimed id: the challenge's plaintext, base64
	mqttConns  int
}

// NewCloud starts a stand-in Cloud answering 204; it stops in t.Cleanup.
func NewCloud(t TB) *Cloud {
	t.Helper()
	c := &Cloud{answer: Answer204, keys: map[string]string{}, challenges: map[string]string{}}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(c.serve))
	// Netdata's clients speak HTTP/1.1 (curl -i in v1 prints the status
	// line it parses).
	c.srv.EnableHTTP2 = false
	// TLS 1.3, as Go serves it by default: the link's client
	// (mqtt_websockets/mqtt_wss_client.c:482-535 v2.11.0) polls for input
	// before it sends its WebSocket upgrade, and the session tickets a TLS
	// 1.3 server sends after the handshake are that input; under TLS 1.2 it
	// would wait 60 s.
	c.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	c.URL = c.srv.URL
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	c.CAFile = filepath.Join(dir, "cloud-ca.pem")
	pemb := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.srv.Certificate().Raw})
	if err := os.WriteFile(c.CAFile, pemb, 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// ServeLink makes the stand-in serve the Agent-Cloud Link too (aclk.go), so
// that the agents it accepts come online. The agent checks the link's
// certificate against the system store unless claimed with insecure = yes
// (aclk.c:746 v2.11.0).
func (c *Cloud) ServeLink() {
	c.mu.Lock()
	c.link = true
	c.mu.Unlock()
}

// LinkConnections is how many MQTT connections the link accepted.
func (c *Cloud) LinkConnections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mqttConns
}

// SetAnswer sets the answer to the next claim requests.
func (c *Cloud) SetAnswer(a Answer) {
	c.mu.Lock()
	c.answer = a
	c.mu.Unlock()
}

// Requests returns the claim requests received so far.
func (c *Cloud) Requests() []ClaimRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ClaimRequest(nil), c.reqs...)
}

func (c *Cloud) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	link := c.link
	c.mu.Unlock()
	if link && c.serveACLK(w, r) {
		return
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	c.mu.Lock()
	a := c.answer
	if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/api/v1/spaces/nodes/") {
		// Anything else (the v2 agent's ACLK asks /api/v1/env once
		// claimed): not found, as a Cloud without the link would.
		a = Answer{Status: http.StatusNotFound}
	}
	req := ClaimRequest{Method: r.Method, Path: r.URL.RequestURI(), Raw: string(b), Status: a.Status}
	json.Unmarshal(b, &req.Body)
	c.reqs = append(c.reqs, req)
	if a.Status == http.StatusNoContent {
		if k, ok := req.Body["publicKey"].(string); ok {
			c.keys[strings.TrimPrefix(r.URL.Path, "/api/v1/spaces/nodes/")] = k
		}
	}
	c.mu.Unlock()
	if a.Key != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.Status)
		json.NewEncoder(w).Encode(map[string]any{"errorCode": a.Key, "errorMsgKey": a.Key, "errorMessage": a.Key})
		return
	}
	w.WriteHeader(a.Status)
}
