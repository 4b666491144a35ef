package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The control socket (DIR/lab.sock) is how the programs installed on lab
// hosts (netdatacli, the init script, a v1 netdata-claim.sh) reach their agent
// inside the lab process. One request per connection: a JSON line in, a JSON
// line out.

type ctlRequest struct {
	Op   string   `json:"op"` // "netdatacli", "service", "claim-v1"
	Host string   `json:"host"`
	Args []string `json:"args"`
}

type ctlReply struct {
	Exit   int    `json:"exit"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
}

// serveCtl accepts control connections until the listener is closed.
func (l *Lab) serveCtl() {
	for {
		c, err := l.ctlLn.Accept()
		if err != nil {
			return
		}
		go l.handleCtl(c)
	}
}

func (l *Lab) handleCtl(c net.Conn) {
	if !l.track(c) {
		c.Close()
		return
	}
	defer l.untrack(c)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var req ctlRequest
	if err := json.NewDecoder(bufio.NewReader(io.LimitReader(c, 64<<10))).Decode(&req); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	l.stats.ctl.Add(1)
	// The request's context ends when the lab stops or the caller hangs up.
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	go func() {
		var b [1]byte
		_, _ = c.Read(b[:])
		cancel()
	}()
	rep := l.dispatch(ctx, req)
	_ = json.NewEncoder(c).Encode(rep)
}

func (l *Lab) dispatch(ctx context.Context, req ctlRequest) ctlReply {
	if req.Op == "kickstart" {
		return l.kickstart(ctx, req.Host, req.Args)
	}
	h := l.byName[req.Host]
	if h == nil || !h.agent.installed.Load() {
		return reply(msgCtlNoAgent, req.Host)
	}
	switch req.Op {
	case "netdatacli":
		return h.agent.netdatacli(ctx, req.Args)
	case "service":
		return h.agent.service(ctx, req.Args)
	case "claim-v1":
		return h.agent.claimV1(ctx, req.Args)
	}
	return reply(msgCtlUnknownOp, req.Op)
}

// pipeName is where a real agent's command pipe would be for this install.
func (p hostPaths) pipeName() string {
	return filepath.Join(p.netdata, "var", "run", "netdata", "netdata.pipe")
}

// notRunning is what netdatacli prints when it cannot reach the agent.
func notRunning(pipe string) ctlReply {
	return reply(msgCLINotRunning, pipe)
}

// netdatacli runs one netdatacli command against the agent. Like the real
// command server, it matches the command by prefix of the joined arguments.
func (a *agent) netdatacli(ctx context.Context, args []string) ctlReply {
	if !a.isRunning() {
		return notRunning(a.h.paths.pipeName())
	}
	name, rest := netdatacliCommand(strings.TrimSpace(strings.Join(args, " ")))
	ok := cliOutput
	switch name {
	case "help":
		return ok(netdatacliHelp())
	case "ping":
		return reply(msgCLIPong)
	case "version":
		return reply(msgCLIVersion, a.h.personality.Version)
	case "shutdown-agent", "fatal-agent":
		// The real agent exits before it answers: netdatacli gets no reply.
		a.stop()
		return reply(msgCLINoAnswer)
	case "reload-claiming-state":
		return a.cliReloadClaim(ctx)
	case "aclk-state":
		if strings.Contains(rest, "json") {
			return ok(a.aclkStateJSON())
		}
		return ok(a.aclkState())
	case "reload-labels":
		// The real agent answers with its labels (rrdlabels_log_to_buffer,
		// src/daemon/commands.c:230-242 v2.11.0); fleetclaim reads only the
		// exit code.
		a.reloadLabels()
		return ok("")
	case "reload-health", "reopen-logs":
		return ok("")
	case "dumpconfig":
		data, _ := os.ReadFile(filepath.Join(a.h.paths.conf, "netdata.conf"))
		return ok(strings.TrimRight(string(data), "\n"))
	case "read-config", "write-config":
		return reply(msgCLIConfigCmd)
	}
	return reply(msgCLIIllegal)
}

// netdatacliCommand splits a netdatacli command line into the command it
// starts with ("" for none it knows) and the rest.
func netdatacliCommand(line string) (name, rest string) {
	for _, c := range netdatacliCommands() {
		if strings.HasPrefix(line, c.name) {
			return c.name, strings.TrimSpace(line[len(c.name):])
		}
	}
	return "", ""
}

// cliOutput is netdatacli's answer msg on stdout (nothing for "").
func cliOutput(msg string) ctlReply {
	if msg == "" {
		return ctlReply{}
	}
	return ctlReply{Stdout: msg + "\n"}
}

// netdatacliHelp is netdatacli help's answer.
func netdatacliHelp() string {
	var b strings.Builder
	b.WriteString("\nExecutable Name     : netdatacli\n\nAvailable Commands:\n")
	for _, c := range netdatacliCommands() {
		if c.help != "" {
			fmt.Fprintf(&b, "%-21s %-7s : %s\n", c.name, c.args, c.help)
		}
	}
	return b.String()
}

// cliReloadClaim answers netdatacli reload-claiming-state.
func (a *agent) cliReloadClaim(ctx context.Context) ctlReply {
	if a.h.personality.Has(FaultClaimHang) {
		<-ctx.Done()
		return reply(msgCLINoAnswer)
	}
	if a.kind() != KindV2 {
		// Agents before v2 only re-read claimed_id and answer nothing.
		a.loadClaim()
		return cliOutput("")
	}
	return cliOutput(a.reloadClaimingState(ctx))
}

// service is the host's init script: start|stop|restart|status.
func (a *agent) service(ctx context.Context, args []string) ctlReply {
	verb := ""
	if len(args) > 0 {
		verb = args[0]
	}
	switch verb {
	case "start":
		if a.isRunning() {
			return reply(msgSvcAlreadyRunning)
		}
		a.start(ctx)
		return reply(msgSvcStarting)
	case "stop":
		if !a.isRunning() {
			return reply(msgSvcNotRunning)
		}
		a.stop()
		return reply(msgSvcStopping)
	case "restart", "force-reload":
		a.stop()
		a.start(ctx)
		return reply(msgSvcRestarting)
	case "status":
		if a.isRunning() {
			return reply(msgSvcRunning)
		}
		return reply(msgSvcStatusStopped)
	}
	return reply(msgSvcUsage)
}

// ctlCall sends one request to the lab process and returns its reply.
func ctlCall(ctx context.Context, sock string, req ctlRequest) (ctlReply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return ctlReply{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return ctlReply{}, err
	}
	var rep ctlReply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		if errors.Is(err, io.EOF) {
			return ctlReply{}, io.ErrUnexpectedEOF
		}
		return ctlReply{}, err
	}
	return rep, nil
}

// runHelper is the host-side end of the control socket: `fleetlab
// netdatacli|service|claim-v1 --sock S --host H ARGS...`.
func runHelper(ctx context.Context, op string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleetlab "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.String("sock", "", "lab control socket")
	name := fs.String("host", "", "lab host name")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	rep, err := ctlCall(ctx, *sock, ctlRequest{Op: op, Host: *name, Args: rest})
	if err != nil {
		switch op {
		case "netdatacli":
			// The lab process is gone: to the host, its agent is not running.
			prefix := filepath.Join(filepath.Dir(*sock), "hosts", *name)
			rep = notRunning(newHostPaths(prefix).pipeName())
		case "service":
			if len(rest) > 0 && rest[0] == "status" {
				rep = reply(msgSvcStatusStopped)
			} else {
				rep = reply(msgSvcLabGone, err)
			}
		default:
			rep = reply(msgHelperLabGone, err)
		}
	}
	_, _ = io.WriteString(stdout, rep.Stdout)
	_, _ = io.WriteString(stderr, rep.Stderr)
	return rep.Exit
}
