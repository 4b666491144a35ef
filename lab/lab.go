package lab

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options configure a lab.
type Options struct {
	// Dir holds everything the lab writes. Required.
	Dir string
	// Hosts is how many SSH hosts to serve (at least 1).
	Hosts int
	// Seed makes a new lab directory's identities (host keys, machine GUIDs,
	// room ids, token, personality placement) reproducible. An existing
	// directory keeps its identities whatever the seed.
	Seed string
	// Personalities is a spec for ParsePersonalities; empty means all v2.
	Personalities string
	// Executable is the program the hosts' netdatacli, init script and v1
	// netdata-claim.sh run as `EXE netdatacli|service|claim-v1|kickstart ...`
	// (the fleetlab binary, whose Main dispatches them). Default: os.Executable().
	Executable string
	// Log receives the lab's own log lines. Default: discarded.
	Log io.Writer
	// TCPWeb makes every agent also listen on a TCP port of its own on
	// 127.0.0.1 (picked at start, the previous run's when free), which its
	// netdata.conf names as [web] default port: a real sshd in front of a
	// host then forwards to that host's agent, as to a real one.
	TCPWeb bool
}

// groupNames are the inventory groups hosts are spread over, round-robin.
func groupNames() []string { return []string{"web", "db", "staging"} }

// groupRooms are the room names of a group.
func groupRooms(group string) []string {
	switch group {
	case "web":
		return []string{"production", "web servers"}
	case "db":
		return []string{"databases"}
	case becomeGroup:
		return []string{"staging"}
	default:
		return []string{group}
	}
}

// Lab is a running lab.
type Lab struct {
	dir     string
	runUser string
	logger  *log.Logger
	ctx     context.Context
	cancel  context.CancelFunc

	hosts  []*host
	byName map[string]*host
	guidMu sync.Mutex
	byGUID map[string][]*host // clones share a machine GUID
	cloud  *cloud
	api    *apiListener
	apiSrv *http.Server
	acc    *acceptor
	ctlLn  net.Listener
	info   Info

	stats counters

	env       helperEnv  // what the hosts' programs run (kickstart installs with it)
	installMu sync.Mutex // one kickstart install at a time

	wg     sync.WaitGroup
	connMu sync.Mutex
	conns  map[net.Conn]struct{}
	procs  map[int]struct{} // process groups of running commands
	closed bool
	once   sync.Once
}

// Start creates (or reopens) the lab in opts.Dir and serves it until Close.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	began := time.Now()
	sc, err := checkOptions(opts)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &Lab{dir: sc.dir, runUser: sc.runUser, logger: log.New(sc.log, "lab: ", log.LstdFlags|log.Lmicroseconds),
		ctx: lctx, cancel: cancel, byName: map[string]*host{}, byGUID: map[string][]*host{}, conns: map[net.Conn]struct{}{}, procs: map[int]struct{}{}, api: newAPIListener()}
	ok := false
	defer func() {
		if !ok {
			l.Close()
		}
	}()
	sec, err := loadSecrets(sc.dir, opts.Seed)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	personalities, err := assignPersonalities(opts.Hosts, sc.spec, sec.k.derive("personalities"))
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := checkLogins(personalities); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	prev := previousPorts(sc.dir)
	l.cloud = l.newLabCloud(sec.k)
	l.addHosts(personalities, sec)
	if err := l.listenHosts(sec, prev, opts.TCPWeb); err != nil {
		return nil, err
	}
	l.env = helperEnv{exe: sc.exe, sock: sc.sock, runUser: l.runUser}
	if err := l.parallel(func(h *host) error { return installHost(h, l.env) }); err != nil {
		return nil, fmt.Errorf("lab: install: %w", err)
	}
	if err := l.cloud.start(sec.ca, prev.cloud); err != nil {
		return nil, err
	}
	if err := l.serve(sc.sock); err != nil {
		return nil, err
	}
	l.bootAgents()
	if err := l.writeFiles(sec.k); err != nil {
		return nil, err
	}
	l.acc.start()
	l.logf("%d hosts, Cloud %s, ready in %s", len(l.hosts), l.cloud.url, time.Since(began).Round(time.Millisecond))
	ok = true
	return l, nil
}

// startConf is what Start makes of its Options before it starts anything.
type startConf struct {
	dir, sock string // absolute
	spec      []PersonalityCount
	exe       string // the program the hosts' helpers run, absolute
	log       io.Writer
	runUser   string
}

// checkOptions checks opts and resolves them to absolute paths, making
// the lab directory's hosts/.
func checkOptions(opts Options) (startConf, error) {
	var sc startConf
	if opts.Hosts < 1 {
		return sc, errors.New("lab: at least one host is needed")
	}
	if opts.Dir == "" {
		return sc, errors.New("lab: a directory is needed")
	}
	var err error
	if sc.dir, err = filepath.Abs(opts.Dir); err != nil {
		return sc, fmt.Errorf("lab: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(sc.dir, "hosts"), 0o755); err != nil {
		return sc, fmt.Errorf("lab: %w", err)
	}
	sc.sock = filepath.Join(sc.dir, "lab.sock")
	if len(sc.sock) >= 104 {
		return sc, fmt.Errorf("lab: socket path %s is too long for a unix socket; use a shorter --dir", sc.sock)
	}
	if sc.spec, err = ParsePersonalities(opts.Personalities); err != nil {
		return sc, fmt.Errorf("lab: %w", err)
	}
	if sc.exe = opts.Executable; sc.exe == "" {
		if sc.exe, err = os.Executable(); err != nil {
			return sc, fmt.Errorf("lab: locate own executable: %w", err)
		}
	}
	if sc.exe, err = filepath.Abs(sc.exe); err != nil {
		return sc, fmt.Errorf("lab: %w", err)
	}
	if sc.log = opts.Log; sc.log == nil {
		sc.log = io.Discard
	}
	u, err := user.Current()
	if err != nil {
		return sc, fmt.Errorf("lab: current user: %w", err)
	}
	sc.runUser = u.Username
	return sc, nil
}

// labSecrets are the lab's identities, kept in its directory: the keyring
// everything derives from, the agents' shared RSA key, the Cloud's CA and
// the client key the lab's SSH hosts accept.
type labSecrets struct {
	k         keyring
	agentKeys *agentKeys
	ca        *cloudCA
	clientKey ssh.PublicKey
}

func loadSecrets(dir, seed string) (labSecrets, error) {
	var s labSecrets
	var err error
	if s.k, err = loadKeyring(dir, seed); err != nil {
		return s, err
	}
	privPEM, pubPEM, err := agentKeyPEM(dir)
	if err != nil {
		return s, err
	}
	s.agentKeys = &agentKeys{privPEM: privPEM, pubPEM: pubPEM}
	if s.ca, err = loadCloudCA(dir); err != nil {
		return s, err
	}
	s.clientKey, err = writeClientKey(dir, s.k)
	return s, err
}

// checkLogins checks that this machine can serve the hosts whose login
// kind needs a user namespace (become.go).
func checkLogins(personalities []Personality) error {
	for _, p := range personalities {
		if p.Login != "" {
			return checkUserNamespaces()
		}
	}
	return nil
}

// labPorts are the ports a lab in the same directory used before: reused,
// so known_hosts lines and the inventory stay valid across restarts.
type labPorts struct {
	ssh, web map[string]int // by host name
	cloud    int
}

func previousPorts(dir string) labPorts {
	p := labPorts{ssh: map[string]int{}, web: map[string]int{}}
	prev, _ := ReadInfo(dir)
	if prev == nil {
		return p
	}
	for _, h := range prev.Hosts {
		p.ssh[h.Name] = h.Port
		p.web[h.Name] = h.WebPort
	}
	if i := strings.LastIndex(prev.CloudURL, ":"); i > 0 {
		p.cloud, _ = strconv.Atoi(prev.CloudURL[i+1:])
	}
	return p
}

// newLabCloud is the lab's Cloud, told by the lab which agents are online
// and what labels their hosts carry.
func (l *Lab) newLabCloud(k keyring) *cloud {
	c := newCloud(l.dir, k, l.logf)
	c.stats = l.Stats
	// A via-parent agent reaches Cloud over its parent's link: it reports
	// indirect only once the parent, claimed, got it a node id
	// (src/claim/cloud-status.c:25-30 v2.11.0), so Cloud sees it live.
	c.online = func(mguid string) bool {
		return l.anyAgent(mguid, func(a *agent) bool { return a.online || a.viaParentLocked() })
	}
	c.labels = func(mguid string) map[string]string {
		l.guidMu.Lock()
		hosts := l.byGUID[mguid]
		l.guidMu.Unlock()
		if len(hosts) == 0 {
			return nil
		}
		return hostLabels(hosts[0])
	}
	c.everOnline = func(mguid string) bool {
		return l.anyAgent(mguid, func(a *agent) bool { return a.connections > 0 || a.viaParentLocked() })
	}
	return c
}

// addHosts makes the lab's hosts, one per personality: name, group,
// machine GUID and agent.
func (l *Lab) addHosts(personalities []Personality, sec labSecrets) {
	width := max(3, len(strconv.Itoa(len(personalities))))
	groups := groupNames()
	for i, p := range personalities {
		name := fmt.Sprintf("lab-%0*d", width, i+1)
		guid := sec.k.uuid(fmt.Sprintf("machine-guid:%d", i))
		if p.CloneGroup != 0 {
			guid = sec.k.uuid(fmt.Sprintf("clone-guid:%d", p.CloneGroup))
		}
		group := groups[i%len(groups)]
		if p.Login != "" {
			group = becomeGroup
		}
		h := &host{index: i, name: name, group: group, personality: p,
			paths: pathsFor(filepath.Join(l.dir, "hosts", name), p.Kind), guid: guid, lab: l}
		h.web.h = h
		// Every host has an agent; on a host without Netdata it counts as
		// installed only once kickstart put it there (in this run or before).
		h.agent = &agent{h: h, keys: sec.agentKeys, logf: l.logf}
		h.agent.installed.Store(p.Kind != KindNone || fileExists(filepath.Join(h.paths.conf, ".install-type")))
		if len(h.personality.Faults) > 0 {
			l.cloud.faults[h.guid] = h.personality
		}
		l.hosts = append(l.hosts, h)
		l.byName[name] = h
	}
}

// listenHosts gives every host its host key and its TCP port (and, with
// tcpWeb, its agent's web port): nothing else is per host.
func (l *Lab) listenHosts(sec labSecrets, prev labPorts, tcpWeb bool) error {
	err := l.parallel(func(h *host) error {
		signer, err := ssh.NewSignerFromKey(sec.k.hostKey(h.name, false))
		if err != nil {
			return err
		}
		h.hostKey = signer
		served := signer
		if h.personality.Has(FaultHostKeyChanged) {
			if served, err = ssh.NewSignerFromKey(sec.k.hostKey(h.name, true)); err != nil {
				return err
			}
		}
		h.newServerConfig(sec.clientKey, served)
		return nil
	})
	if err != nil {
		return fmt.Errorf("lab: host keys: %w", err)
	}
	if l.acc, err = newAcceptor(l); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	for _, h := range l.hosts {
		// A refusing host keeps its port in the inventory, but nothing listens.
		port, err := l.acc.listen(h, prev.ssh[h.name], !h.personality.Has(FaultSSHRefuse))
		if err != nil {
			return fmt.Errorf("lab: host %s: listen: %w", h.name, err)
		}
		h.port = port
	}
	if !tcpWeb {
		return nil
	}
	for _, h := range l.hosts {
		if err := h.web.pick(prev.web[h.name]); err != nil {
			return fmt.Errorf("lab: host %s: web port: %w", h.name, err)
		}
	}
	return nil
}

// serve starts the control socket the hosts' helpers call and the agents'
// HTTP API.
func (l *Lab) serve(sock string) error {
	_ = os.Remove(sock)
	var err error
	if l.ctlLn, err = net.Listen("unix", sock); err != nil {
		return fmt.Errorf("lab: control socket: %w", err)
	}
	l.apiSrv = &http.Server{
		Handler:           http.HandlerFunc(serveAgentAPI),
		ConnContext:       apiConnContext,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	l.goRun(func() { _ = l.apiSrv.Serve(l.api) })
	l.goRun(l.serveCtl)
	return nil
}

// serveAgentAPI serves a request to the agent of the host its connection
// came through.
func serveAgentAPI(w http.ResponseWriter, r *http.Request) {
	h, _ := r.Context().Value(hostCtxKey{}).(*host)
	if h == nil || !h.agent.installed.Load() {
		http.NotFound(w, r)
		return
	}
	if h.agent.apiPort() == 0 {
		// The agent stopped (or turned its web server off) since
		// this connection was made: it drops the connection.
		panic(http.ErrAbortHandler)
	}
	h.agent.serveHTTP(w, r)
}

// bootAgents brings the agents up with their claims from disk; unclaimed
// v2 agents that find a claim.conf claim in the background, as they would
// at boot.
func (l *Lab) bootAgents() {
	_ = l.parallel(func(h *host) error {
		if !h.agent.installed.Load() || h.personality.Has(FaultAgentStopped) {
			return nil
		}
		a := h.agent
		a.loadGUID()
		a.mu.Lock()
		a.running, a.startedAt = true, time.Now()
		a.mu.Unlock()
		port := a.readWebPort()
		a.mu.Lock()
		a.webPort = port
		a.mu.Unlock()
		a.loadClaim()
		return nil
	})
	var pending []*host
	for _, h := range l.hosts {
		h.web.sync() // a stopped or uninstalled agent's port closes here
		if a := h.agent; a.isRunning() && a.kind() == KindV2 && !a.isClaimed() &&
			fileExists(filepath.Join(h.paths.conf, "claim.conf")) {
			pending = append(pending, h)
		}
	}
	if len(pending) > 0 {
		l.goRun(func() { l.claimAtBoot(pending) })
	}
}

// bootClaims is how many agents claim from claim.conf at once at boot.
const bootClaims = 8

// claimAtBoot has the agents of hosts claim from their claim.conf,
// bootClaims at a time, until the lab closes.
func (l *Lab) claimAtBoot(hosts []*host) {
	sem := make(chan struct{}, bootClaims)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, h := range hosts {
		select {
		case sem <- struct{}{}:
		case <-l.ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			h.agent.claimFromConf(l.ctx)
		})
	}
}

// setGUID records that h's agent now has machine GUID guid (was old).
func (l *Lab) setGUID(h *host, old, guid string) {
	l.guidMu.Lock()
	defer l.guidMu.Unlock()
	if old != "" {
		l.byGUID[old] = slices.DeleteFunc(l.byGUID[old], func(x *host) bool { return x == h })
		if len(l.byGUID[old]) == 0 {
			delete(l.byGUID, old)
		}
	}
	l.byGUID[guid] = append(l.byGUID[guid], h)
}

// parallel runs f for every host on a few workers and returns the first error.
func (l *Lab) parallel(f func(*host) error) error {
	workers := min(max(2*runtime.NumCPU(), 4), len(l.hosts))
	var (
		mu    sync.Mutex
		first error
		next  = make(chan *host)
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for h := range next {
				if err := f(h); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, h := range l.hosts {
		next <- h
	}
	close(next)
	wg.Wait()
	return first
}

func (l *Lab) goRun(f func()) {
	l.wg.Go(f)
}

func (l *Lab) logf(format string, args ...any) { l.logger.Printf(format, args...) }

// track registers a live connection so Close can end it; false once closing.
func (l *Lab) track(c net.Conn) bool {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Lab) untrack(c net.Conn) {
	l.connMu.Lock()
	delete(l.conns, c)
	l.connMu.Unlock()
}

// trackProc registers the process group of a running command so Close can
// end it; a command started while the lab closes is killed at once.
func (l *Lab) trackProc(pgid int) {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if l.closed {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return
	}
	l.procs[pgid] = struct{}{}
}

func (l *Lab) untrackProc(pgid int) {
	l.connMu.Lock()
	delete(l.procs, pgid)
	l.connMu.Unlock()
}

// counters are what the lab has served since it started.
type counters struct {
	conns, handshakes, authFailures, sessions, execs, sftp, forwards, webConns, ctl atomic.Int64
}

// Stats counts what the lab served since it started: benchmarks read them
// (GET /lab/stats on the lab Cloud) to report round trips per host.
type Stats struct {
	Connections   int64 `json:"connections"`    // TCP connections accepted on host ports
	Handshakes    int64 `json:"handshakes"`     // SSH handshakes completed
	AuthFailures  int64 `json:"auth_failures"`  // handshakes that failed (auth or otherwise)
	Sessions      int64 `json:"sessions"`       // session channels opened
	Execs         int64 `json:"execs"`          // exec and shell requests run
	SFTP          int64 `json:"sftp"`           // sftp subsystems started
	Forwards      int64 `json:"forwards"`       // direct-tcpip channels to agent APIs
	WebConns      int64 `json:"web_conns"`      // TCP connections to agents' own web ports (TCPWeb)
	CtlRequests   int64 `json:"ctl_requests"`   // netdatacli / init script / v1 claim calls
	ClaimRequests int64 `json:"claim_requests"` // claim PUTs the lab Cloud answered
}

// anyAgent reports whether test holds, under the agent's lock, for any
// agent whose host has machine GUID mguid.
func (l *Lab) anyAgent(mguid string, test func(*agent) bool) bool {
	l.guidMu.Lock()
	hosts := l.byGUID[mguid]
	l.guidMu.Unlock()
	for _, h := range hosts {
		h.agent.mu.Lock()
		ok := test(h.agent)
		h.agent.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

// Stats returns the lab's counters.
func (l *Lab) Stats() Stats {
	c := &l.stats
	return Stats{Connections: c.conns.Load(), Handshakes: c.handshakes.Load(), AuthFailures: c.authFailures.Load(),
		Sessions: c.sessions.Load(), Execs: c.execs.Load(), SFTP: c.sftp.Load(), Forwards: c.forwards.Load(),
		WebConns: c.webConns.Load(), CtlRequests: c.ctl.Load(), ClaimRequests: l.cloud.claimRequests.Load()}
}

// Info describes the running lab (what lab.json holds).
func (l *Lab) Info() *Info {
	i := l.info
	return &i
}

// Dir is the lab directory.
func (l *Lab) Dir() string { return l.dir }

// Close stops serving: listeners, connections (and the commands they run),
// the control socket, the agent API and the lab Cloud. It is idempotent.
func (l *Lab) Close() error {
	l.once.Do(func() {
		l.cancel()
		l.connMu.Lock()
		l.closed = true
		conns := make([]net.Conn, 0, len(l.conns))
		for c := range l.conns {
			conns = append(conns, c)
		}
		for pgid := range l.procs {
			// Whatever clients left running on lab hosts ends with the lab.
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		l.connMu.Unlock()
		if l.acc != nil {
			l.acc.close()
		}
		for _, h := range l.hosts {
			h.web.close()
		}
		if l.ctlLn != nil {
			l.ctlLn.Close()
			_ = os.Remove(filepath.Join(l.dir, "lab.sock"))
		}
		for _, c := range conns {
			c.Close()
		}
		_ = l.api.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if l.apiSrv != nil {
			_ = l.apiSrv.Shutdown(ctx)
		}
		if l.cloud != nil {
			l.cloud.close(ctx)
		}
		done := make(chan struct{})
		go func() { l.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			l.logf("close: some goroutines did not stop in time")
		}
	})
	return nil
}

// writeFiles writes the files clients use: known_hosts, inventory.yml, token, lab.json.
func (l *Lab) writeFiles(k keyring) error {
	var kh strings.Builder
	for _, h := range l.hosts {
		fmt.Fprintf(&kh, "[127.0.0.1]:%d %s", h.port, ssh.MarshalAuthorizedKey(h.hostKey.PublicKey()))
	}
	if err := writeFileAtomic(filepath.Join(l.dir, "known_hosts"), []byte(kh.String()), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(l.dir, "token"), []byte(l.cloud.token+"\n"), 0o600); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(l.dir, "kickstart.sh"), []byte(kickstartScript(l.env)), 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	pw := k.derive("sudo-password")
	if err := writeFileAtomic(filepath.Join(l.dir, sudoPassFile), []byte(hex.EncodeToString(pw[:12])+"\n"), 0o600); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := l.cloud.writeAPITokens(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(l.dir, "inventory.yml"), []byte(l.inventory()), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	info := Info{PID: os.Getpid(), Dir: l.dir, User: l.runUser, CloudURL: l.cloud.url, SpaceID: l.cloud.spaceID,
		Rooms: l.cloud.rooms, Socket: filepath.Join(l.dir, "lab.sock"), Started: time.Now().UTC()}
	for _, h := range l.hosts {
		guid := h.agent.machineGUID()
		switch {
		case !h.agent.installed.Load():
			guid = ""
		case guid == "":
			guid = h.guid
		}
		info.Hosts = append(info.Hosts, HostInfo{Name: h.name, Address: "127.0.0.1", Port: h.port, WebPort: h.web.port,
			Prefix: h.paths.prefix, Group: h.group, Personality: h.personality, MachineGUID: guid})
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(l.dir, "lab.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	l.info = info
	return nil
}

// inventory renders inventory.yml in fleetclaim's native format.
func (l *Lab) inventory() string {
	var b strings.Builder
	b.WriteString("# fleetclaim lab inventory (generated)\n")
	b.WriteString("defaults:\n")
	fmt.Fprintf(&b, "  user: %s\n", yamlScalar(l.runUser))
	fmt.Fprintf(&b, "  identity_files: [%s]\n", yamlScalar(filepath.Join(l.dir, "id_ed25519")))
	fmt.Fprintf(&b, "  known_hosts: [%s]\n", yamlScalar(filepath.Join(l.dir, "known_hosts")))
	fmt.Fprintf(&b, "  url: %s\n", yamlScalar(l.cloud.url))
	fmt.Fprintf(&b, "  token_file: %s\n", yamlScalar(filepath.Join(l.dir, "token")))
	fmt.Fprintf(&b, "  ca_file: %s\n", yamlScalar(filepath.Join(l.dir, "cloud-ca.pem")))
	// Rooms by name: fleetclaim resolves them through the lab Cloud's API.
	fmt.Fprintf(&b, "  space: %s\n", yamlScalar(labSpaceName))
	fmt.Fprintf(&b, "  api_token_file: %s\n", yamlScalar(filepath.Join(l.dir, "api-token")))
	b.WriteString("groups:\n")
	groups := groupNames()
	if slices.ContainsFunc(l.hosts, func(h *host) bool { return h.group == becomeGroup }) {
		groups = append(groups, becomeGroup)
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "  %s:\n", g)
		if g == becomeGroup {
			// Reached as an ordinary user through sudo, as most fleets
			// are; its hosts say where they differ.
			fmt.Fprintf(&b, "    user: %s\n    become: sudo\n", loginUser)
		}
		var rooms, ids []string
		for _, name := range groupRooms(g) {
			rooms = append(rooms, yamlScalar(name))
			ids = append(ids, l.cloud.roomID(name))
		}
		fmt.Fprintf(&b, "    rooms: [%s]  # %s\n", strings.Join(rooms, ", "), strings.Join(ids, ", "))
		b.WriteString("    hosts:\n")
		for _, h := range l.hosts {
			if h.group != g {
				continue
			}
			fmt.Fprintf(&b, "      %s: {address: 127.0.0.1, port: %d, netdata_prefix: %s%s}", h.name, h.port, yamlScalar(h.paths.prefix), l.loginSettings(h))
			if p := h.personality; p.Kind != KindV2 || len(p.Faults) > 0 || p.CloneGroup != 0 || p.Version != KindV2.defaultVersion() || p.Login != "" {
				fmt.Fprintf(&b, "  # personality: %s", p)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// yamlScalar returns s as a YAML scalar, double-quoted unless it is plainly safe.
func yamlScalar(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-:+@", c)) {
			safe = false
			break
		}
	}
	if safe && !strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "@") && !strings.Contains(s, ": ") {
		return s
	}
	q, _ := json.Marshal(s)
	return string(q)
}

// becomeGroup is the inventory group of the hosts with a login kind: the
// group logs in as ops and becomes root with sudo.
const becomeGroup = "become"

// loginSettings are a login host's inventory settings where they differ
// from its group's (becomeGroup).
func (l *Lab) loginSettings(h *host) string {
	k := h.personality.Login
	if k == "" {
		return ""
	}
	switch k {
	case LoginSudoPassword:
		return ", sudo_password_file: " + yamlScalar(filepath.Join(l.dir, sudoPassFile))
	case LoginDoas:
		return ", become: doas"
	case LoginRunAs:
		return ", user: " + runAsLogin + ", become: none"
	case LoginSudoRunAs:
		return ", become_user: " + runAsLogin
	}
	return ""
}
