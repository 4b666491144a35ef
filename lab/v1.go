package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// claimV1 is netdata-claim.sh of an agent before v2 (and of builds without
// Cloud, which ship the same script): the script itself claims, with the node
// id being the machine GUID unless -id= is given, and reports by exit code.
func (a *agent) claimV1(ctx context.Context, args []string) ctlReply {
	if a.kind() == KindNoCloud {
		return reply(msgV1NoCloud)
	}
	v, bad := parseClaimV1Args(args)
	if bad != "" {
		return reply(msgV1UnknownArg, bad)
	}
	req := v.req
	cloudDir := a.h.paths.cloudDir
	if req.token == "" {
		if data, err := os.ReadFile(filepath.Join(cloudDir, "token")); err == nil {
			req.token = strings.TrimSpace(string(data))
		}
		if data, err := os.ReadFile(filepath.Join(cloudDir, "rooms")); err == nil && req.rooms == "" {
			req.rooms = strings.TrimSpace(string(data))
		}
	}
	if a.h.personality.Has(FaultClaimHang) {
		<-ctx.Done()
		return reply(msgV1ClaimHang)
	}
	if req.nodeID == "" {
		data, err := os.ReadFile(a.h.paths.guidFile())
		id := strings.TrimSpace(string(data))
		if err != nil || id == "" {
			return reply(msgV1GUID, a.h.paths.guidFile())
		}
		req.nodeID = id
	}
	res := a.claimOnceV1(ctx, req)
	if !res.ok {
		return v1Failure(req, res)
	}
	_ = os.Remove(filepath.Join(cloudDir, "token"))
	rep := reply(msgV1AttemptOK, 1)
	if v.noReload {
		return rep
	}
	return a.tellClaimedV1(rep, v.proxyArg)
}

// claimV1Args are netdata-claim.sh's arguments as the lab reads them.
type claimV1Args struct {
	req      claimRequest
	noReload bool
	proxyArg string // -proxy='s value, "" without it
}

// parseClaimV1Args reads netdata-claim.sh's arguments, or returns the
// first it does not know.
func parseClaimV1Args(args []string) (claimV1Args, string) {
	v := claimV1Args{req: claimRequest{url: defaultCloudURL, proxy: "env"}}
	for _, arg := range args {
		key, val, _ := strings.Cut(arg, "=")
		switch key {
		case "-token":
			v.req.token = val
		case "-rooms":
			v.req.rooms = val
		case "-url":
			v.req.url = val
		case "-proxy":
			v.req.proxy, v.proxyArg = val, val
		case "-noproxy":
			v.req.proxy = "none"
		case "-insecure":
			v.req.insecure = true
		case "-id":
			v.req.nodeID = val
		case "-hostname":
			v.req.hostname = val
		case "-noreload":
			v.noReload = true
		case "-user", "-verbose", "-daemon-not-running":
		default:
			return v, arg
		}
	}
	return v, ""
}

// tellClaimedV1 ends a successful claim as netdata-claim.sh does: it tells
// the running agent (netdatacli reload-claiming-state), or says it could
// not.
func (a *agent) tellClaimedV1(rep ctlReply, proxyArg string) ctlReply {
	// A claim through -proxy= prefixes its last line with advice
	// (netdata-claim.sh.in:410-414 v1.37.1).
	proxyMsg := ""
	if proxyArg != "" {
		proxyMsg = msgf(msgV1ProxyAdvice, proxyArg)
	}
	if !a.isRunning() {
		// netdatacli could not reach the agent (exit 0 of the
		// $(...)-swallowed run: exit5-agent-not-told).
		rep.add(msgV1NotNotified, proxyMsg, 0)
		rep.Exit = msgExit(msgV1NotNotified)
		return rep
	}
	a.loadClaim()
	rep.add(msgV1Claimed, proxyMsg)
	return rep
}

// v1Failure is what netdata-claim.sh prints and returns for a failed claim.
// A request that got no answer is "Failed to connect to URL, return code N"
// (curl's exit code), then the answer parsing finds no key: "Unknown HTTP
// error message", exit 7 (exit7-connect-failed; the real script tries three
// times, the lab once). An answer's errorMsgKey alone picks the exit code.
func v1Failure(req claimRequest, res claimResult) ctlReply {
	var rep ctlReply
	key := res.errorKey
	if res.status == 0 {
		curl := res.curl
		if curl == "" {
			curl = msgCurlConnect
		}
		rep.add(msgV1AttemptFailed, 1, 1)
		rep.add(msgV1Connect, req.url, msgExit(curl))
		key = ""
	}
	id := v1ErrorRow(key)
	rep.add(msgV1ClaimFailed, msgf(id))
	rep.Exit = msgExit(id)
	return rep
}

// claimOnceV1 makes the single claim request of the v1 script and records its outcome.
func (a *agent) claimOnceV1(ctx context.Context, req claimRequest) claimResult {
	a.claimM.Lock()
	defer a.claimM.Unlock()
	if err := a.ensureKeys(); err != nil {
		return claimResult{reason: err.Error()}
	}
	res := a.claimOnce(ctx, req)
	if res.ok {
		if err := a.saveClaim(req, res.nodeID); err != nil {
			return claimResult{reason: msgf(msgReasonSave), status: res.status}
		}
	}
	return res
}
