package claim

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/fleetclaim/fleetclaim/remote"
)

// CloudKeeps is what Netdata Cloud keeps after an unclaim, in the words of
// Netdata's docs/nodes-ephemerality.md ("Automatic Node Instance Cleanup in
// Netdata Cloud", v2.11.0): no public API endpoint deletes a node from a
// Space, so the node stays there, offline, until Cloud's own cleanup.
const CloudKeeps = `Cloud keeps the node in its Space, offline: no public API endpoint deletes a node from a Space.
Cloud removes offline nodes on its own schedule (Netdata's docs/nodes-ephemerality.md, "Automatic
Node Instance Cleanup in Netdata Cloud"): "Directly connected nodes | 7 days | Nodes claimed directly
to Netdata Cloud without going through a Parent"; "Child nodes | 48 hours"; "Unseen nodes | 48 hours |
Nodes that were claimed but have never connected to Netdata Cloud". To remove it sooner, see
Netdata's docs/learn/remove-node.md.`

// unclaimStep is one step of an unclaim: the line plan shows for it next
// to the action that does it, so that a plan and a run cannot differ.
type unclaimStep struct {
	name string
	plan []string
	run  func(ctx context.Context) error
}

// unclaimSpec is the host part of an unclaim: what unclaim.sh is given.
// Its plan lines and its parameters come from the same fields.
type unclaimSpec struct {
	conf, cloudd, cli, stop, start string
}

func (s unclaimSpec) plan() []string {
	var p []string
	if s.stop != "" {
		p = append(p, "stop the agent ("+s.stop+"), unless netdatacli finds it stopped")
	} else {
		p = append(p, "the agent is not running: it is not started either")
	}
	p = append(p, "remove "+s.cloudd+" (claimed id, key pair, cloud.conf)", "remove "+path.Join(s.conf, "claim.conf"))
	if s.start != "" {
		p = append(p, "start the agent ("+s.start+"), if it was running")
	}
	return p
}

func (s unclaimSpec) args() []string { return []string{s.conf, s.cloudd, s.cli, s.stop, s.start} }

// unclaimedBefore reports, from the probe, that an install holds no claim
// on disk: no claimed id, no claim.conf, and a cloud.d the probe could read.
func unclaimedBefore(in *remote.Install) bool {
	return in.ClaimedID == "" && !in.ClaimConf && in.CloudDir != "unreadable"
}

// unclaim removes the claim of an installed agent: on the host (stop,
// remove the claim state, start) and, with a Cloud API token, the node
// from its rooms. A host with nothing to remove is already-unclaimed and
// is not touched.
func (b installed) unclaim(ctx context.Context, r *hostRun) error {
	if r.dry && unclaimedBefore(b.inst) {
		r.res.Status = StatusAlreadyUnclaimed
		r.res.Plan = []string{"nothing to do: no claimed id in cloud.d and no claim.conf"}
		r.res.Message = "not claimed"
		return nil
	}
	var err error
	if r.priv, err = r.privilege(b.inst); err != nil && !r.dry {
		return err
	}
	u := &unclaimRun{c: r.c, r: r}
	steps, err := u.steps()
	if err != nil {
		return err
	}
	for _, s := range steps {
		if err := r.wet(s.name, s.plan, func() error { return s.run(ctx) }); err != nil {
			return err
		}
		if u.nothing {
			r.res.Status = StatusAlreadyUnclaimed
			r.res.Message = "not claimed: nothing to unclaim"
			return nil
		}
	}
	r.planned("would unclaim")
	if !r.dry {
		r.res.Status = StatusUnclaimed
		r.res.Message = "unclaimed (" + strings.Join(u.had, ", ") + " removed)" + u.cloudNote
		r.res.Online = nil
	}
	return nil
}

// nothingToUnclaim is the unclaim of a host without an agent.
func (r *hostRun) nothingToUnclaim() error {
	r.res.Status = StatusAlreadyUnclaimed
	r.res.Message = "no Netdata Agent on the host: nothing to unclaim"
	return nil
}

// unclaimRun is one host's unclaim while it runs.
type unclaimRun struct {
	c *Claimer
	r *hostRun
	// nothing: the host script found no claim state.
	nothing bool
	had     []string
	// nodeID is the node's id in Cloud, as the agent reported it before it
	// was stopped ("" when it did not know it).
	nodeID    string
	cloudNote string
}

// steps are the unclaim's steps, in order: the host's, then Cloud's.
func (u *unclaimRun) steps() ([]unclaimStep, error) {
	r := u.r
	pinned := r.h.Claim.NetdataPrefix != ""
	sp := unclaimSpec{conf: r.inst.ConfigDir, cloudd: path.Join(r.inst.VarLibDir, "cloud.d")}
	if r.inst.Running != "no" {
		var err error
		if sp.stop, err = serviceCommand(r.facts, r.inst, pinned, "stop"); err != nil {
			return nil, err
		}
		if sp.start, err = serviceCommand(r.facts, r.inst, pinned, "start"); err != nil {
			return nil, err
		}
		sp.cli = r.inst.CLI
	}
	steps := []unclaimStep{{name: "unclaim", plan: sp.plan(), run: func(ctx context.Context) error { return u.host(ctx, sp) }}}
	if s, ok := u.cloudStep(); ok {
		steps = append(steps, s)
	}
	return steps, nil
}

// host runs unclaim.sh.
func (u *unclaimRun) host(ctx context.Context, sp unclaimSpec) error {
	script, err := hostScript(unclaimCode)
	if err != nil {
		return err
	}
	res, err := remote.RunScript(ctx, u.r.priv, script, sp.args()...)
	if err != nil {
		return err
	}
	out := parseKV(res.Stdout)
	if e := out["fleetclaim-error"]; e != "" {
		return scriptError(e, res)
	}
	if a := out["aclk"]; a != "" {
		u.nodeID = selfNodeID([]byte(a))
	}
	if out["state"] == "unclaimed" {
		u.nothing = true
		return nil
	}
	for _, w := range outLines(res.Stdout, "had=") {
		switch w {
		case "agent-memory":
			w = "the running agent's claim"
		case "cloud.d-link":
			w = "cloud.d (a symbolic link, removed without following it)"
		}
		u.had = append(u.had, w)
	}
	if out["removed"] != "1" {
		return fail(CatWriteFailed, "the unclaim script did not finish (exit %d): %s", res.ExitCode, remote.Clip(strings.TrimSpace(string(res.Stderr)), 300))
	}
	return nil
}

// selfNodeID reads the node id of the agent itself from `netdatacli
// aclk-state json`: node-instances[relationship=self].node-id, null until
// the agent's link to Cloud came up (aclk/aclk.c:1107-1112 v1.37.1,
// src/aclk/aclk.c:1338-1343 v2.11.0).
func selfNodeID(b []byte) string {
	var st struct {
		Nodes []struct {
			Relationship string  `json:"relationship"`
			NodeID       *string `json:"node-id"`
		} `json:"node-instances"`
	}
	if json.Unmarshal(b, &st) != nil {
		return ""
	}
	for _, n := range st.Nodes {
		if n.Relationship == "self" && n.NodeID != nil && isUUIDish(*n.NodeID) {
			return strings.ToLower(*n.NodeID)
		}
	}
	return ""
}

// isUUIDish accepts the 36-character form of a UUID: a node id goes into a
// Cloud API url.
func isUUIDish(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, ch := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if ch != '-' {
				return false
			}
		case ch >= '0' && ch <= '9', ch >= 'a' && ch <= 'f', ch >= 'A' && ch <= 'F':
		default:
			return false
		}
	}
	return true
}

// cloudStep removes the node from the host's rooms through the Cloud API,
// when the host has a token: DELETE /api/v1/spaces/{s}/rooms/{r}/claimed-nodes
// ?node_ids=ID (terraform-provider-netdata internal/client/node_room_member.go
// DeleteNodeRoomMember, commit f86f47e).
func (u *unclaimRun) cloudStep() (unclaimStep, bool) {
	if u.c.opts.CloudRooms == nil {
		return unclaimStep{}, false
	}
	t := u.c.opts.CloudRooms(u.r.h)
	if t == nil {
		return unclaimStep{}, false
	}
	var rooms []string
	for _, id := range u.r.h.Claim.Rooms {
		if !strings.EqualFold(t.RoomName(id), allNodesRoomName) {
			rooms = append(rooms, id)
		}
	}
	if len(rooms) == 0 {
		return unclaimStep{}, false
	}
	names := make([]string, len(rooms))
	for i, id := range rooms {
		names[i] = t.RoomName(id)
	}
	plan := []string{fmt.Sprintf("Cloud API: remove the node from rooms %s (the node stays in Space %s, offline, until Cloud's cleanup)",
		strings.Join(names, ", "), t.SpaceName())}
	run := func(ctx context.Context) error {
		if u.nodeID == "" {
			u.r.res.Warnings = append(u.r.res.Warnings, "Cloud API: the agent did not know its node id (its link to Cloud was not up), so the node was not removed from its rooms; Cloud removes unseen and offline nodes on its own schedule")
			return nil
		}
		for i, id := range rooms {
			// The host is unclaimed already: a Cloud failure is a warning,
			// not a failure that a retry would meet as already-unclaimed
			// (the node id gone with the claim).
			if err := t.RemoveFromRoom(ctx, id, []string{u.nodeID}); err != nil {
				u.r.res.Warnings = append(u.r.res.Warnings, fmt.Sprintf("Cloud API: node %s was not removed from room %s: %v; remove it in the Space's UI", u.nodeID, names[i], err))
				return nil
			}
		}
		u.cloudNote = fmt.Sprintf("; node %s removed from rooms %s, still in the Space until Cloud's cleanup", u.nodeID, strings.Join(names, ", "))
		return nil
	}
	return unclaimStep{name: "cloud-rooms", plan: plan, run: run}, true
}

// CloudRooms is a host's Space in Netdata Cloud as unclaim needs it, to take
// the node out of its rooms (claim/cloud.Target is one).
type CloudRooms interface {
	// RoomName is a room's name for messages, its id when unknown.
	RoomName(id string) string
	// SpaceName is the Space's name for messages, its id when unknown.
	SpaceName() string
	// RemoveFromRoom takes nodes out of one room of the Space.
	RemoveFromRoom(ctx context.Context, room string, nodeIDs []string) error
}

// allNodesRoomName is the room every node of a Space is in: a node is not
// removed from it (what Cloud would do then is not documented).
const allNodesRoomName = "All nodes"
