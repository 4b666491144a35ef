package lab

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// agentWebPort is the web port every lab agent's netdata.conf declares.
const agentWebPort = 19999

// defaultCloudURL is what an unconfigured agent reports as its Cloud URL.
const defaultCloudURL = "https://app.netdata.cloud"

// agent is the simulated Netdata Agent of one lab host. Its state lives here,
// in the lab process; the files under the host's prefix are what a real agent
// would leave on disk, and are re-read where a real agent re-reads them.
type agent struct {
	h      *host
	keys   *agentKeys
	logf   func(format string, args ...any)
	mu     sync.Mutex
	claimM sync.Mutex // serialises claims, like the agent's claiming spinlock
	// installed is false on a host without Netdata until the lab's
	// kickstart.sh installs the agent.
	installed atomic.Bool

	guid string // machine GUID, read from disk (or made) at start

	running     bool
	webPort     int // [web] default port of netdata.conf at start; 0 = API off
	startedAt   time.Time
	claimedID   string // in-memory claim id; survives a reload, cleared by a restart
	cloudURL    string // from cloud.conf
	proxy       string
	online      bool
	connectedAt time.Time
	connections int
	failure     string   // last claim failure reason
	conf        hostConf // node name and host labels from netdata.conf (hostconf.go)
}

// agentKeys is what every simulated agent shares: the RSA key pair, and TLS
// session caches (one per trust configuration) so that claims after the first
// resume a TLS session instead of verifying the lab Cloud's chain again: a real
// agent would not, but the lab must stay cheap next to what it measures.
type agentKeys struct {
	privPEM, pubPEM []byte
	sessions        sync.Map // trust key -> tls.ClientSessionCache
}

func (k *agentKeys) sessionCache(trust string) tls.ClientSessionCache {
	if c, ok := k.sessions.Load(trust); ok {
		return c.(tls.ClientSessionCache)
	}
	c, _ := k.sessions.LoadOrStore(trust, tls.NewLRUClientSessionCache(64))
	return c.(tls.ClientSessionCache)
}

// cloudStatusLocked is the agent's Cloud status as /api/v2/info names it.
func (a *agent) cloudStatusLocked() string {
	switch {
	case a.claimedID != "" && a.online:
		return "online"
	case a.running && a.h.personality.Has(FaultViaParent):
		// Checked before the agent's own claim (cloud-status.c:25-31 v2.11.0).
		return "indirect"
	case a.claimedID != "":
		return "offline"
	default:
		return "available"
	}
}

// start brings the agent up: it loads the claim from disk and, like a real v2
// agent at start-up, claims from claim.conf when it is not claimed yet.
func (a *agent) start(ctx context.Context) {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return
	}
	a.running = true
	a.startedAt = time.Now()
	a.webPort = a.readWebPort()
	a.claimedID, a.cloudURL, a.proxy = "", "", ""
	a.online = false
	a.failure = ""
	a.mu.Unlock()
	a.h.web.sync()
	if a.kind() == KindV2 {
		// The real v2.11.0 agent makes cloud.d, empty, at start when it is
		// missing (lab/testdata/v2.11.0-cloudd-after-unclaim.txt).
		if err := os.Mkdir(a.h.paths.cloudDir, 0o770); err != nil && !errors.Is(err, fs.ErrExist) {
			a.logf("host %s: make cloud.d: %v", a.h.name, err)
		}
	}
	a.loadHostConf()
	a.loadGUID()
	a.loadClaim()
	a.loadLinkProxy()
	if a.kind() == KindV2 && !a.isClaimed() && fileExists(filepath.Join(a.h.paths.conf, "claim.conf")) {
		a.claimFromConf(ctx)
	}
}

// kind is how this agent behaves (see AgentKind.agentKind).
func (a *agent) kind() AgentKind { return a.h.personality.Kind.agentKind() }

// loadGUID reads the machine GUID from disk, as the agent does at start;
// when the file is gone (a new identity) it makes a new one and writes it.
func (a *agent) loadGUID() {
	file := a.h.paths.guidFile()
	g := ""
	if data, err := os.ReadFile(file); err == nil {
		g = strings.ToLower(strings.TrimSpace(string(data)))
	}
	if !isUUID(g) {
		g = randomUUID()
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err == nil {
			if err := writeFileAtomic(file, []byte(g), 0o644); err != nil {
				a.logf("host %s: write machine GUID: %v", a.h.name, err)
			}
		}
	}
	a.mu.Lock()
	old := a.guid
	a.guid = g
	a.mu.Unlock()
	if old != g && a.h.lab != nil {
		a.h.lab.setGUID(a.h, old, g)
	}
}

// machineGUID is the agent's current machine GUID.
func (a *agent) machineGUID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.guid
}

// readWebPort reads the agent's web port from netdata.conf, as the agent
// does at start: [web] default port (19999), or 0 for [web] mode = none.
func (a *agent) readWebPort() int {
	conf := readINI(filepath.Join(a.h.paths.conf, "netdata.conf"))
	if conf["web.mode"] == "none" {
		return 0
	}
	if p, err := strconv.Atoi(conf["web.default port"]); err == nil && p > 0 && p < 65536 {
		return p
	}
	return agentWebPort
}

// apiPort is the port the running agent's web API listens on (0: none).
func (a *agent) apiPort() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.running {
		return 0
	}
	return a.webPort
}

func (a *agent) stop() {
	a.mu.Lock()
	a.running = false
	a.online = false
	a.mu.Unlock()
	a.h.web.sync()
}

func (a *agent) isRunning() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running
}

func (a *agent) isClaimed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.claimedID != ""
}

// loadClaim merges the claim on disk (cloud.d/cloud.conf, cloud.d/claimed_id)
// into the agent's memory: a claim the agent already holds is kept even when
// the files are gone, which is why a reload alone cannot un-claim a node.
func (a *agent) loadClaim() {
	conf := readINI(filepath.Join(a.h.paths.cloudDir, "cloud.conf"))
	id := conf["global.claimed_id"]
	if !isUUID(id) {
		if data, err := os.ReadFile(filepath.Join(a.h.paths.cloudDir, "claimed_id")); err == nil {
			id = strings.TrimSpace(string(data))
		}
	}
	u := conf["global.url"]
	if u == "" {
		u = conf["global.cloud base url"]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if isUUID(id) && a.claimedID == "" {
		a.claimedID = strings.ToLower(id)
	}
	if u != "" {
		a.cloudURL = u
	}
	if a.claimedID != "" && a.running && !a.online && !a.h.personality.Has(FaultOffline) && !a.h.personality.Has(FaultViaParent) {
		a.online = true
		a.connectedAt = time.Now()
		a.connections++
	}
}

// reloadClaimingState is `netdatacli reload-claiming-state`.
func (a *agent) reloadClaimingState(ctx context.Context) string {
	a.loadClaim()
	if !a.isClaimed() && a.kind() == KindV2 {
		a.claimFromConf(ctx)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch a.cloudStatusLocked() {
	case "online":
		return msgf(msgReloadOnline)
	case "offline":
		return msgf(msgReloadOffline, a.offlineReasonLocked())
	case "indirect":
		return msgf(msgReloadIndirect)
	default:
		return msgf(msgReloadNotClaimed, a.failureReasonLocked())
	}
}

func (a *agent) offlineReasonLocked() string {
	return msgf(msgOfflineReason)
}

func (a *agent) failureReasonLocked() string {
	if a.failure == "" {
		return msgf(msgNotClaimedYet)
	}
	return a.failure
}

// claimFromConf claims with the settings in claim.conf, if it has a token.
func (a *agent) claimFromConf(ctx context.Context) {
	conf := readINI(filepath.Join(a.h.paths.conf, "claim.conf"))
	u, ok := conf["global.url"]
	if !ok || u == "" {
		u = defaultCloudURL
	}
	token := conf["global.token"]
	proxy, ok := conf["global.proxy"]
	if !ok {
		proxy = "env"
	}
	if token == "" {
		return
	}
	a.claim(ctx, claimRequest{url: u, token: token, rooms: conf["global.rooms"], proxy: proxy,
		insecure: iniBool(conf["global.insecure"])})
}

type claimRequest struct {
	url, token, rooms, proxy string
	insecure                 bool
	nodeID                   string // v1 only: the id to claim as (default: a fresh random one)
	hostname                 string // v1 only
}

// claimResult is one claim attempt's outcome.
type claimResult struct {
	ok       bool
	status   int    // HTTP status, 0 when the request failed
	errorKey string // errorMsgKey of a 4xx answer
	reason   string // the agent's failure reason
	curl     msgID  // the libcurl failure of a request that got no answer
	retry    bool
	nodeID   string
}

// claim runs the agent's claim: up to five attempts while the failure is retryable.
func (a *agent) claim(ctx context.Context, req claimRequest) claimResult {
	a.claimM.Lock()
	defer a.claimM.Unlock()
	if err := a.ensureKeys(); err != nil {
		res := claimResult{reason: err.Error()}
		a.setFailure(res.reason)
		return res
	}
	var res claimResult
	for attempt := 0; attempt < 5; attempt++ {
		res = a.claimOnce(ctx, req)
		if res.ok || !res.retry {
			break
		}
		select {
		case <-ctx.Done():
			a.setFailure(res.reason)
			return res
		case <-time.After(time.Duration(300+100*attempt) * time.Millisecond):
		}
	}
	if !res.ok {
		a.setFailure(res.reason)
		return res
	}
	if err := a.saveClaim(req, res.nodeID); err != nil {
		res = claimResult{reason: msgf(msgReasonSave)}
		a.logf("host %s: save claim: %v", a.h.name, err)
		a.setFailure(res.reason)
		return res
	}
	a.mu.Lock()
	a.claimedID = res.nodeID
	a.h.claimLanded()
	a.cloudURL = req.url
	a.failure = ""
	if a.running && !a.h.personality.Has(FaultOffline) && !a.h.personality.Has(FaultViaParent) {
		a.online = true
		a.connectedAt = time.Now()
		a.connections++
	}
	a.mu.Unlock()
	return res
}

func (a *agent) setFailure(reason string) {
	a.mu.Lock()
	a.failure = reason
	a.mu.Unlock()
}

// ensureKeys installs the shared RSA key pair as the agent's cloud.d key pair.
func (a *agent) ensureKeys() error {
	dir := a.h.paths.cloudDir
	if fileExists(filepath.Join(dir, "public.pem")) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return errors.New(msgf(msgReasonWritePrivKey, filepath.Join(dir, "private.pem")))
	}
	if err := os.WriteFile(filepath.Join(dir, "private.pem"), a.keys.privPEM, 0o600); err != nil {
		return errors.New(msgf(msgReasonWritePrivKey, filepath.Join(dir, "private.pem")))
	}
	if err := os.WriteFile(filepath.Join(dir, "public.pem"), a.keys.pubPEM, 0o600); err != nil {
		return errors.New(msgf(msgReasonWritePubKey, filepath.Join(dir, "public.pem")))
	}
	return nil
}

// claimOnce sends one claim request to Cloud.
func (a *agent) claimOnce(ctx context.Context, req claimRequest) claimResult {
	cr, failed := a.claimPayload(req)
	if failed != nil {
		return *failed
	}
	tlsConf, trusted := a.claimTLS(req)
	fail := func(id msgID, proxyShown string) claimResult {
		return a.requestFailure(id, proxyShown, req.insecure, cr.pubFile, trusted)
	}
	tr, proxyShown, err := claimTransport(req.proxy, tlsConf)
	if err != nil {
		return fail(msgCurlNoProxyName, proxyShown)
	}
	defer tr.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPut, cr.target, bytes.NewReader(cr.body))
	if err != nil {
		return fail(msgCurlBadURL, proxyShown)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr}).Do(httpReq)
	if err != nil {
		a.logf("host %s: claim request: %v", a.h.name, err)
		res := fail(curlError(err, tr.Proxy != nil), proxyShown)
		res.retry = true
		return res
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	res := claimAnswer(resp.StatusCode, respBody)
	res.nodeID = cr.nodeID
	return res
}

// claimPut is one claim request's target and body.
type claimPut struct {
	nodeID, target string
	pubFile        string // the agent's public key, sent in the body
	body           []byte
}

// claimPayload builds the request, or the failure of an agent that cannot
// read its public key.
func (a *agent) claimPayload(req claimRequest) (claimPut, *claimResult) {
	cr := claimPut{nodeID: req.nodeID}
	if cr.nodeID == "" {
		cr.nodeID = randomUUID()
	}
	hostname := req.hostname
	if hostname == "" {
		a.mu.Lock()
		hostname = a.nodeNameLocked()
		a.mu.Unlock()
	}
	cr.target = req.url
	if !strings.HasSuffix(cr.target, "/") {
		cr.target += "/"
	}
	cr.target += "api/v1/spaces/nodes/" + cr.nodeID
	cr.pubFile = filepath.Join(a.h.paths.cloudDir, "public.pem")
	pub, err := os.ReadFile(cr.pubFile)
	if err != nil || len(pub) == 0 {
		return cr, &claimResult{reason: msgf(msgReasonReadPubKey, cr.pubFile)}
	}
	rooms := []string{}
	for r := range strings.SplitSeq(req.rooms, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rooms = append(rooms, r)
		}
	}
	cr.body, _ = json.Marshal(map[string]any{
		"node":      map[string]string{"id": cr.nodeID, "hostname": hostname},
		"token":     req.token,
		"rooms":     rooms,
		"publicKey": string(pub),
		"mGUID":     a.machineGUID(),
	})
	return cr, nil
}

// claimTLS is the claim request's TLS configuration and the CA file it
// trusts ("" for the system's). The CA: trusted.pem first, then
// cloud_fullchain.pem (netdata v2.11.0 src/claim/claim-with-api.c:229-243);
// v1's netdata-claim.sh knows only cloud_fullchain.pem (v1.37.1
// claim/netdata-claim.sh.in:143).
func (a *agent) claimTLS(req claimRequest) (*tls.Config, string) {
	names := []string{"trusted.pem", "cloud_fullchain.pem"}
	if a.kind() != KindV2 {
		names = names[1:]
	}
	trusted := ""
	for _, name := range names {
		if p := filepath.Join(a.h.paths.cloudDir, name); fileExists(p) {
			trusted = p
			break
		}
	}
	tlsConf := &tls.Config{InsecureSkipVerify: req.insecure} //nolint:gosec // the agent's own -insecure option
	trust := "system"
	if trusted != "" && !req.insecure {
		pool := x509.NewCertPool()
		if pem, err := os.ReadFile(trusted); err == nil {
			pool.AppendCertsFromPEM(pem)
			trust = "file:" + string(pem)
		}
		tlsConf.RootCAs = pool // like curl's CAINFO: the file replaces the default bundle
	}
	if !req.insecure {
		tlsConf.ClientSessionCache = a.keys.sessionCache(trust)
	}
	return tlsConf, trusted
}

// claimTransport is the claim request's transport through the agent's
// proxy setting ("", "none", "env" or a URL), and the proxy as the agent
// shows it in a failure.
func claimTransport(proxy string, tlsConf *tls.Config) (*http.Transport, string, error) {
	tr := &http.Transport{
		TLSClientConfig:     tlsConf,
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: 5 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	switch proxy {
	case "", "none":
		return tr, "none", nil
	case "env":
		tr.Proxy = http.ProxyFromEnvironment
		return tr, proxy, nil
	}
	p := proxy
	if !strings.Contains(p, "://") {
		p = "http://" + p
	}
	pu, err := url.Parse(p)
	if err != nil {
		return tr, proxy, err
	}
	if pu.Scheme == "socks5h" {
		pu.Scheme = "socks5"
	}
	tr.Proxy = http.ProxyURL(pu)
	return tr, proxy, nil
}

// claimAnswer reads Cloud's answer to a claim as the agent does: by its
// status and errorMsgKey.
func claimAnswer(code int, body []byte) claimResult {
	res := claimResult{status: code}
	var e struct {
		ErrorMsgKey string `json:"errorMsgKey"`
	}
	_ = json.Unmarshal(body, &e)
	res.errorKey = e.ErrorMsgKey
	switch {
	case e.ErrorMsgKey == msgRowOf(msgCloudProcessing).key:
		res.reason = msgf(msgReasonInProgress)
	case code == http.StatusNoContent:
		res.ok = true
	case code == http.StatusUnprocessableEntity:
		res.reason = reason422(e.ErrorMsgKey, len(body) == 0)
	case code == http.StatusProcessing:
		res.reason = msgf(msgReasonInProgress)
	case code == http.StatusForbidden:
		res.reason = msgf(msgReasonForbidden)
	case code == http.StatusConflict:
		res.reason = msgf(msgReasonClaimed)
	case code == http.StatusInternalServerError:
		res.reason, res.retry = msgf(msgReason500), true
	case code == http.StatusServiceUnavailable:
		res.reason, res.retry = msgf(msgReason503), true
	case code == http.StatusGatewayTimeout:
		res.reason, res.retry = msgf(msgReason504), true
	default:
		res.reason, res.retry = msgf(msgReasonOtherStatus, code), true
	}
	return res
}

// reason422 is the reason an agent gives for a 422 with errorMsgKey key
// (empty: the body was, or had no key).
func reason422(key string, emptyBody bool) string {
	switch id := reason422Row(key); {
	case id != "":
		return msgf(id)
	case key == "" && emptyBody:
		return msgf(msgReasonEmpty, http.StatusUnprocessableEntity)
	case key == "":
		return msgf(msgReasonNoKey, http.StatusUnprocessableEntity)
	}
	return msgf(msgReasonDescription, key)
}

// requestFailure formats a transport failure the way the agent reports it.
func (a *agent) requestFailure(what msgID, proxy string, insecure bool, pubFile, trusted string) claimResult {
	if trusted == "" {
		trusted = "none"
	}
	return claimResult{curl: what, reason: msgf(msgReasonRequest, msgf(what), proxy, insecure, pubFile, trusted)}
}

// curlError names a Go transport error the way libcurl's curl_easy_strerror
// names the matching failure, since that is what real agents print.
func curlError(err error, viaProxy bool) msgID {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalid):
		return msgCurlCertificate
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return msgCurlTimeout
	case errors.As(err, &dnsErr):
		if viaProxy {
			return msgCurlNoProxyName
		}
		return msgCurlNoHostName
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return msgCurlConnect
	case viaProxy && strings.Contains(err.Error(), "proxyconnect"):
		return msgCurlConnect
	case strings.Contains(err.Error(), "tls:"):
		return msgCurlSSLConnect
	default:
		return msgCurlRecv
	}
}

// saveClaim writes what a real agent writes after a successful claim.
func (a *agent) saveClaim(req claimRequest, nodeID string) error {
	dir := a.h.paths.cloudDir
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "claimed_id"), []byte(nodeID), 0o640); err != nil {
		return err
	}
	var conf string
	if a.kind() == KindV1 {
		conf = fmt.Sprintf("[global]\n    enabled = yes\n    cloud base url = %s\n", req.url)
	} else {
		conf = fmt.Sprintf("[global]\n    url = %s\n    proxy = %s\n    token = %s\n    rooms = %s\n    insecure = %s\n    machine_guid = %s\n    claimed_id = %s\n    hostname = %s\n",
			req.url, req.proxy, req.token, req.rooms, map[bool]string{true: "yes", false: "no"}[req.insecure],
			a.machineGUID(), nodeID, a.h.name)
	}
	return writeFileAtomic(filepath.Join(dir, "cloud.conf"), []byte(conf), 0o600)
}

// aclkState is `netdatacli aclk-state` (text).
func (a *agent) aclkState() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kind() == KindNoCloud {
		return msgf(msgACLKNone)
	}
	var b strings.Builder
	b.WriteString(msgf(msgACLKHead, 5))
	if a.claimedID == "" {
		b.WriteString(msgf(msgACLKNotClaimed))
	} else {
		b.WriteString(msgf(msgACLKClaimed, a.claimedID, a.cloudURLLocked(), a.proxyDisplayLocked(), "0us"))
	}
	b.WriteString(msgf(msgACLKOnline, yesNo(a.online), max(a.connections-1, 0), "No"))
	if !a.connectedAt.IsZero() {
		t := a.connectedAt.Local().Format(time.DateTime)
		b.WriteString(msgf(msgACLKLastConn, t))
		b.WriteString(msgf(msgACLKLastConnAck, 3, t))
	}
	if a.online {
		b.WriteString(msgf(msgACLKStats, 3, 3, 0, 100))
		// "Node ID: null" until Cloud assigned one (src/aclk/aclk.c:1166-1172, v2.11.0).
		nd := "null"
		if id := a.nodeIDLocked(); id != nil {
			nd = *id
		}
		b.WriteString(msgf(msgACLKNode, a.guid, a.nodeNameLocked(), a.claimedID, nd, 0, "self", 1, 0, 0, 0))
	}
	return b.String()
}

func (a *agent) cloudURLLocked() string {
	if a.cloudURL == "" {
		return defaultCloudURL
	}
	return a.cloudURL
}

func (a *agent) proxyDisplayLocked() string {
	switch a.proxy {
	case "", "none", "env":
		return "none"
	}
	cred := "without credentials"
	if strings.Contains(a.proxy, "@") {
		cred = "with credentials"
	}
	host := a.proxy
	if u, err := url.Parse(a.proxy); err == nil && u.Host != "" {
		host = u.Scheme + "://" + u.Host
	}
	return fmt.Sprintf("%s (%s, from cloud.conf)", host, cred)
}

// nodeIDLocked is the node id the agent reports: nil (JSON null) until its
// link is up, then the id Cloud assigned. A real agent's node id is zero
// until Cloud's CreateNodeInstanceResult over the link sets it
// (src/aclk/aclk_rx_msgs.c:253-264, v2.11.0); aclk-state json then prints
// "node-id": null (src/aclk/aclk.c:1337-1344, v2.11.0) and /api/v2/info
// "nd": null (src/database/contexts/api_v2_contexts_agents.c:23, v2.11.0),
// as the real v2.11.0 agent shows while offline
// (../shared/netdata-v2/README.md, aclk-state json and /api/v2/info captures).
func (a *agent) nodeIDLocked() *string {
	if !a.online || a.claimedID == "" || a.h.lab == nil || a.h.lab.cloud == nil {
		return nil
	}
	if id := a.h.lab.cloud.nodeIDOf(a.claimedID); id != "" {
		return &id
	}
	return nil
}

// aclkNodeInstance is a node instance of aclkStateDoc.
type aclkNodeInstance struct {
	Hostname        string         `json:"hostname"`
	MGUID           string         `json:"mguid"`
	ClaimedID       *string        `json:"claimed_id"`
	NodeID          *string        `json:"node-id"`
	StreamingHops   int            `json:"streaming-hops"`
	Relationship    string         `json:"relationship"`
	StreamingOnline bool           `json:"streaming-online"`
	AlertSync       map[string]int `json:"alert-sync-status"`
}

// aclkStateDoc is netdatacli aclk-state json's document (aclkStateJSON).
type aclkStateDoc struct {
	Available      bool               `json:"aclk-available"`
	Version        int                `json:"aclk-version"`
	Protocols      []string           `json:"protocols-supported"`
	Claimed        bool               `json:"agent-claimed"`
	ClaimedID      *string            `json:"claimed-id"`
	CloudURL       string             `json:"cloud-url"`
	Proxy          string             `json:"aclk_proxy"`
	PublishLatency int64              `json:"publish_latency_us"`
	Online         bool               `json:"online"`
	Protocol       string             `json:"used-cloud-protocol"`
	MQTTVersion    int                `json:"mqtt-version"`
	Received       int                `json:"received-app-layer-msgs"`
	Pubacks        int                `json:"received-mqtt-pubacks"`
	Pending        int                `json:"pending-mqtt-pubacks"`
	TimedOut       int                `json:"timed-out-mqtt-pubacks-since-start"`
	RecvMax        int                `json:"server-receive-maximum"`
	Reconnects     int                `json:"reconnect-count"`
	LastConnect    *string            `json:"last-connect-time-utc"`
	LastConnectAck *string            `json:"last-connect-time-puback-utc"`
	LastDisconnect *string            `json:"last-disconnect-time-utc"`
	NextAttempt    *string            `json:"next-connection-attempt-utc"`
	LastBackoff    *float64           `json:"last-backoff-value"`
	Banned         bool               `json:"banned-by-cloud"`
	NodeInstances  []aclkNodeInstance `json:"node-instances"`
}

// aclkStateJSON is `netdatacli aclk-state json`, keys in the agent's order.
func (a *agent) aclkStateJSON() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kind() == KindNoCloud {
		return `{"aclk-available":false}`
	}
	s := aclkStateDoc{Available: true, Version: 2, Protocols: []string{"Protobuf"}, Claimed: a.claimedID != "",
		CloudURL: a.cloudURLLocked(), Proxy: a.proxyDisplayLocked(), Online: a.online, Protocol: "Protobuf",
		MQTTVersion: 5, Reconnects: max(a.connections-1, 0)}
	ni := aclkNodeInstance{Hostname: a.nodeNameLocked(), MGUID: a.guid, Relationship: "self", StreamingOnline: true,
		AlertSync: map[string]int{"updates": 1, "checkpoints": 0, "alert-count": 0, "alert-snapshot-count": 0}}
	if a.claimedID != "" {
		id := a.claimedID
		s.ClaimedID, ni.ClaimedID = &id, &id
	}
	ni.NodeID = a.nodeIDLocked()
	if !a.connectedAt.IsZero() {
		t := a.connectedAt.UTC().Format(time.DateTime)
		s.LastConnect, s.LastConnectAck = &t, &t
	}
	if a.online {
		s.Received, s.Pubacks, s.RecvMax = 3, 3, 100
	}
	s.NodeInstances = []aclkNodeInstance{ni}
	out, _ := json.Marshal(s)
	return string(out)
}

// serveHTTP is the agent's web API, reached through direct-tcpip (and, with
// Options.TCPWeb, on the host's own TCP port).
func (a *agent) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, msgf(msgWebMethod), msgRowOf(msgWebMethod).status)
		return
	}
	p := a.h.personality
	var v any
	switch r.URL.Path {
	case "/api/v1/info":
		v = a.infoV1()
	case "/api/v2/info":
		if versionBefore(p.Version, 1, 40) {
			http.NotFound(w, r)
			return
		}
		v = a.infoV2()
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	_ = enc.Encode(v)
}

func (a *agent) infoV1() any {
	a.mu.Lock()
	defer a.mu.Unlock()
	cloud := a.kind() != KindNoCloud
	type info struct {
		Version        string   `json:"version"`
		UID            string   `json:"uid"`
		HostsAvailable int      `json:"hosts-available"`
		MirroredHosts  []string `json:"mirrored_hosts"`
		OSName         string   `json:"os_name"`
		KernelName     string   `json:"kernel_name"`
		Architecture   string   `json:"architecture"`
		CloudEnabled   bool     `json:"cloud-enabled"`
		CloudAvailable bool     `json:"cloud-available"`
		AgentClaimed   bool     `json:"agent-claimed"`
		ACLKAvailable  bool     `json:"aclk-available"`
		MemoryMode     string   `json:"memory-mode"`
		WebEnabled     bool     `json:"web-enabled"`
		StreamEnabled  bool     `json:"stream-enabled"`
		HTTPSEnabled   bool     `json:"https-enabled"`
		// host_labels: src/web/api/v1/api_v1_info.c:132 (v2.11.0).
		HostLabels map[string]string `json:"host_labels"`
	}
	return info{Version: "v" + a.h.personality.Version, UID: a.guid, HostsAvailable: 1,
		MirroredHosts: []string{a.nodeNameLocked()}, HostLabels: a.conf.labels, OSName: "Debian GNU/Linux", KernelName: "Linux",
		Architecture: prebuiltArch(), CloudEnabled: cloud, CloudAvailable: cloud,
		AgentClaimed: a.claimedID != "", ACLKAvailable: a.online, MemoryMode: "dbengine",
		WebEnabled: true, HTTPSEnabled: true}
}

func (a *agent) infoV2() any {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	since := a.startedAt
	if !a.connectedAt.IsZero() {
		since = a.connectedAt
	}
	cloud := map[string]any{"id": a.connections, "status": a.cloudStatusLocked(),
		"since": since.Unix(), "age": int64(now.Sub(since).Seconds())}
	switch a.cloudStatusLocked() {
	case "online":
		cloud["claim_id"], cloud["url"], cloud["reason"] = a.claimedID, a.cloudURLLocked(), ""
	case "offline":
		cloud["claim_id"], cloud["url"], cloud["reason"] = a.claimedID, a.cloudURLLocked(), a.offlineReasonLocked()
	case "indirect":
		// The parent's claim id, not the agent's own, while its own link
		// is offline (src/claim/claim_id.c:161-168, cloud-status.c:118-123
		// v2.11.0).
		cloud["claim_id"], cloud["url"], cloud["reason"] = labParentClaimID, a.cloudURLLocked(), a.offlineReasonLocked()
	default:
		cloud["url"], cloud["reason"] = a.cloudURLLocked(), a.failureReasonLocked()
	}
	nd := a.nodeIDLocked()
	type agentInfo struct {
		MG          string         `json:"mg"`
		ND          *string        `json:"nd"`
		NM          string         `json:"nm"`
		Now         int64          `json:"now"`
		AI          int            `json:"ai"`
		Application map[string]any `json:"application"`
		Cloud       map[string]any `json:"cloud"`
	}
	return map[string]any{"api": 2, "agents": []agentInfo{{MG: a.guid, ND: nd, NM: a.nodeNameLocked(), Now: now.Unix(),
		Application: map[string]any{"package": map[string]any{"version": "v" + a.h.personality.Version,
			"type": "kickstart-static", "arch": prebuiltArch()}},
		Cloud: cloud}}}
}

// readINI parses a netdata-style ini file into "section.key" -> value.
// Missing files read as empty.
func readINI(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[section+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

func iniBool(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1", "auto":
		return true
	}
	return false
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// loadLinkProxy reads, at start, the proxy the agent's link keeps until it
// stops (netdata v2.11.0 src/aclk/aclk_proxy.c:198-227: read once):
// netdata.conf's [cloud] proxy, else cloud.d/cloud.conf's, else "env"
// (src/claim/cloud-conf.c:23-36). A claim does not change it.
func (a *agent) loadLinkProxy() {
	p := readINI(filepath.Join(a.h.paths.cloudDir, "cloud.conf"))["global.proxy"]
	if v, ok := readINI(filepath.Join(a.h.paths.conf, "netdata.conf"))["cloud.proxy"]; ok {
		p = v
	}
	if p == "" {
		p = "env"
	}
	a.mu.Lock()
	a.proxy = p
	a.mu.Unlock()
}

// labParentClaimID is the claimed id of the parent a FaultViaParent agent
// streams to.
const labParentClaimID = "6d1f0b7e-7a41-4c43-9d0e-5a2f0c4b7e11"

// viaParentLocked reports whether Cloud sees the agent through its parent:
// it runs and streams to a claimed parent (FaultViaParent).
func (a *agent) viaParentLocked() bool {
	return a.running && a.h.personality.Has(FaultViaParent)
}
