package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// claimV1 is netdata-claim.sh of an agent before v2 (and of builds without
// Cloud, which ship the same script): the script itself claims, with the node
// id being the machine GUID unless -id= is given, and reports by exit code.
func (a *agent) claimV1(ctx context.Context, args []string) ctlReply {
	fail := func(code int, msg string) ctlReply {
		return ctlReply{Exit: code, Stderr: msg + "\n"}
	}
	if a.kind() == KindNoCloud {
		return fail(3, "This agent was built with --disable-cloud and cannot be claimed")
	}
	req := claimRequest{url: defaultCloudURL, proxy: "env"}
	noReload := false
	for _, arg := range args {
		key, val, _ := strings.Cut(arg, "=")
		switch key {
		case "-token":
			req.token = val
		case "-rooms":
			req.rooms = val
		case "-url":
			req.url = val
		case "-proxy":
			req.proxy = val
		case "-noproxy":
			req.proxy = "none"
		case "-insecure":
			req.insecure = true
		case "-id":
			req.nodeID = val
		case "-hostname":
			req.hostname = val
		case "-noreload":
			noReload = true
		case "-user", "-verbose", "-daemon-not-running":
		default:
			return fail(1, "Unknown argument "+arg)
		}
	}
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
		return ctlReply{Exit: 255}
	}
	if req.nodeID == "" {
		data, err := os.ReadFile(a.h.paths.guidFile())
		id := strings.TrimSpace(string(data))
		if err != nil || id == "" {
			return fail(18, "Unable to read the machine GUID from "+a.h.paths.guidFile())
		}
		req.nodeID = id
	}
	res := a.claimOnceV1(ctx, req)
	if !res.ok {
		code := 7
		switch {
		case res.status == 0:
			return fail(4, fmt.Sprintf("Failed to connect to %s: %s", req.url, strings.SplitN(res.reason, "\n", 2)[0]))
		case res.errorKey == "ErrInvalidNodeID":
			code = 8
		case res.errorKey == "ErrInvalidNodeName":
			code = 9
		case res.errorKey == "ErrInvalidRoomID":
			code = 10
		case res.errorKey == "ErrInvalidPublicKey":
			code = 11
		case res.errorKey == "ErrForbidden":
			code = 12
		case res.errorKey == "ErrAlreadyClaimed":
			code = 13
		case res.errorKey == "ErrProcessingClaim":
			code = 14
		case res.status == 500:
			code = 15
		case res.status == 504:
			code = 16
		case res.status == 503:
			code = 17
		}
		return ctlReply{Exit: code, Stdout: fmt.Sprintf("Failed to claim node with the following error message:\"%s\"\n", res.reason)}
	}
	_ = os.Remove(filepath.Join(cloudDir, "token"))
	if noReload {
		return ctlReply{Stdout: "Node was successfully claimed.\n"}
	}
	if !a.isRunning() {
		return ctlReply{Exit: 5, Stdout: "Node was successfully claimed.\n",
			Stderr: "The claim was successful but the agent could not be notified (netdatacli reload-claiming-state failed) - restart it to connect to Netdata Cloud.\n"}
	}
	a.loadClaim()
	return ctlReply{Stdout: "Node was successfully claimed.\n"}
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
			return claimResult{reason: "Failed to save claiming info to disk", status: res.status}
		}
	}
	return res
}
