package claim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetclaim/fleetclaim/remote"
)

// Status is how a host's run ended.
type Status string

const (
	StatusClaimed        Status = "claimed"
	StatusAlreadyClaimed Status = "already-claimed"
	StatusReclaimed      Status = "reclaimed"
	StatusPlanned        Status = "planned"
	StatusSkipped        Status = "skipped"
	StatusFailed         Status = "failed"
	StatusNotStarted     Status = "not-started"
	// StatusUnclaimed: unclaim removed the node's claim; already-unclaimed:
	// there was none (nothing was touched).
	StatusUnclaimed        Status = "unclaimed"
	StatusAlreadyUnclaimed Status = "already-unclaimed"
)

// OK reports whether the status counts as a host that ended well.
func (s Status) OK() bool {
	switch s {
	case StatusClaimed, StatusAlreadyClaimed, StatusReclaimed, StatusPlanned, StatusSkipped,
		StatusUnclaimed, StatusAlreadyUnclaimed:
		return true
	}
	return false
}

// Category is a kind of failure: the type of package remote's categories,
// which this package's add to.
type Category = remote.Category

// Claim failure categories. The connection layer's are remote's (CatX of
// package remote); the three that claim code names directly are re-exported
// here, not defined again. The Cloud API's follow.
const (
	CatNotInstalled       Category = "not-installed"
	CatUnsupportedInstall Category = "unsupported-install"
	CatCommandNotFound    Category = "command-not-found"
	CatNoPrivilege        Category = remote.CatNoPrivilege
	CatTokenRejected      Category = "token-rejected"
	CatRoomInvalid        Category = "room-invalid"
	CatAlreadyClaimedElse Category = "already-claimed-elsewhere"
	CatCloudUnreachable   Category = "cloud-unreachable"
	CatCloudError         Category = "cloud-error"
	CatCertificate        Category = "certificate-untrusted"
	CatOldOpenSSL         Category = "old-openssl"
	CatClaimedOffline     Category = "claimed-offline"
	CatBanned             Category = "banned"
	CatAgentNotRunning    Category = "agent-not-running"
	CatClaimFailed        Category = "claim-failed"
	CatWriteFailed        Category = "write-failed"
	CatMethodUnavailable  Category = "method-unavailable"
	CatDuplicateGUID      Category = "duplicate-machine-guid"
	CatTimeout            Category = remote.CatTimeout
	CatCanceled           Category = remote.CatCanceled
	CatInvalidNode        Category = "invalid-node"
	CatTokenUnavailable   Category = "token-unavailable"
	CatNoMachineGUID      Category = "machine-guid-missing"
	// CatUnsafePath: a path a claim script writes as root is a symbolic
	// link where the agent's user could have put it.
	CatUnsafePath Category = "unsafe-path"
	// CatNotStarted: the run ended before the host's turn (StatusNotStarted).
	CatNotStarted Category = "not-started"
)

// Cloud API failure categories.
const (
	// CatCloudAPIScope: the Cloud API refused the API token (401/403).
	CatCloudAPIScope Category = "cloud-api-scope"
	// CatCloudAPI: the Cloud API failed otherwise (unreachable, 5xx and 429
	// after the retries, an answer fleetclaim cannot read).
	CatCloudAPI Category = "cloud-api-error"
	// CatCloudMissing: the host says it is claimed, but Cloud does not list
	// the node as connected in its rooms.
	CatCloudMissing Category = "cloud-missing"
)

// remedy says, per category, what an admin does about it.
func remedy(cat Category) string {
	if r := claimRemedy(cat); r != "" {
		return r
	}
	return sessionRemedy(cat)
}

// claimRemedy is the advice for a category of the agent, its claim or
// Cloud.
func claimRemedy(cat Category) string {
	switch cat {
	case CatNotInstalled:
		return "install the agent (method: kickstart) or set netdata_prefix to where it lives"
	case CatUnsupportedInstall:
		return "this build cannot connect to Cloud (e.g. a distribution package built without Cloud): reinstall with kickstart"
	case CatCommandNotFound:
		return "the agent's tools are outside the searched paths: set netdata_prefix, or reinstall with kickstart"
	case CatTokenRejected:
		return "the claim token is unknown or expired: copy the current token from the Space's Connect Nodes page"
	case CatRoomInvalid:
		return "a room id does not belong to the token's Space: check the group's rooms"
	case CatAlreadyClaimedElse:
		return "the node is claimed already: use `fleetclaim reclaim` (add --new-identity for cloned machines)"
	case CatCloudUnreachable:
		return "the agent cannot reach the Cloud url: check the firewall, DNS and the proxy setting"
	case CatCertificate:
		return "the agent does not trust the Cloud's certificate: set ca_file to the endpoint's CA chain (it covers the claim request only; for the link, add the CA to the host's system store too)"
	case CatOldOpenSSL:
		return "the host's OpenSSL cannot validate host names: reinstall the agent as a static build"
	case CatClaimedOffline:
		return "claimed, but the agent is not connected: check the firewall and proxy, then the agent's error.log"
	case CatBanned:
		return "Cloud has banned this node: remove it in the Space and reclaim with --new-identity"
	case CatAgentNotRunning:
		return "start the agent (systemctl start netdata) and run again"
	case CatDuplicateGUID:
		return "these hosts are clones sharing one machine GUID: reclaim them with --new-identity"
	case CatTokenUnavailable:
		return "set the token's environment variable or token_file"
	case CatClaimFailed:
		return "read the message and the agent's error.log; `fleetclaim facts` shows what fleetclaim found on the host"
	case CatUnsafePath:
		return "a path fleetclaim writes as root is a symbolic link in a directory the agent's user can write: find out who made it, remove it, then run again"
	case CatNoMachineGUID:
		return "the agent has no machine GUID yet: start it once (it creates one), then claim again"
	case CatCloudError:
		return "Cloud answered with an error: retry later; if it persists, check Netdata's status page"
	case CatInvalidNode:
		return "Cloud refused the node's id, name or key: reclaim with --new-identity"
	case CatWriteFailed:
		return "a file on the host could not be written: check free space, a read-only filesystem and permissions"
	case CatMethodUnavailable:
		return "the host cannot be claimed with this method: set method: auto, or see `fleetclaim facts`"
	case CatCloudMissing:
		return "Cloud does not see the node connected: check the firewall (outbound HTTPS to the Cloud url) and the proxy setting, that the claim token and the space setting name the same Space, then the agent's error.log"
	case CatCloudAPIScope:
		return "create a Cloud API token with the scopes fleetclaim needs (Space rooms and nodes) and point api_token_env or api_token_file at it"
	case CatCloudAPI:
		return "the Cloud API did not answer well: retry later; check the Cloud url, proxy and Netdata's status page"
	}
	return ""
}

// sessionRemedy is the advice for a category of the connection, the
// session on the host and the run (package remote's).
func sessionRemedy(cat Category) string {
	switch cat {
	case CatNoPrivilege:
		return "claiming needs root or the agent's run-as user: set become: sudo (or doas), become_user, or log in as that user; sudo may ask for its password only (interactive authentication: one-time codes, other PAM questions, is not supported)"
	case remote.CatHostKeyUnknown:
		return "add the host's key to known_hosts (ssh-keyscan, then verify it) or use host_key_policy: accept-new"
	case remote.CatHostKeyChanged:
		return "verify the host's new key out of band, then replace its known_hosts line"
	case remote.CatAuth:
		return "check the user, identity files and ssh-agent keys for this host"
	case remote.CatConnectRefused, remote.CatConnectTimeout, remote.CatUnreachable, remote.CatDNS:
		return "check that the host is up and sshd listens on the configured address and port"
	case remote.CatHandshakeTimeout:
		return "the server accepted TCP but did not finish the SSH handshake: check sshd and MaxStartups"
	case CatTimeout:
		return "a step did not finish within --timeout (the record's steps show which): check the host's agent and network, or raise --timeout"
	case CatCanceled:
		return "the run was interrupted before this host finished: run again (hosts already claimed are left alone)"
	case remote.CatConnectionLost:
		return "the SSH connection broke during the run: check the network and sshd, then run again (a claim that went through is recognised)"
	case remote.CatSudoPassword:
		return "the sudo password was refused: check sudo_password_env/sudo_password_file or --ask-become-pass"
	case remote.CatHostKeyRevoked:
		return "the host's key is marked @revoked in known_hosts: find out why before trusting this host"
	case remote.CatInvalidValue:
		return "an inventory value cannot be sent to a host safely (e.g. a NUL byte or a line break): fix it in the inventory"
	}
	return ""
}

// Remedy returns the advice for a category ("" when there is none).
func Remedy(cat Category) string { return remedy(cat) }

// Step is one timed phase of a host's run.
type Step struct {
	Name   string `json:"name"`
	Millis int64  `json:"ms"`
	// As is the user the step's commands ran as on the host, Via the
	// wrapper that made them so: "sudo", "doas" or "none" (the login
	// user's own shell).
	As  string `json:"as,omitempty"`
	Via string `json:"via,omitempty"`
	// plan is the step's lines, as a plan of the same host shows them
	// (none for connect and probe, which plans run too).
	plan []string
}

// Result is the record of one host's run.
type Result struct {
	Host         string   `json:"host"`
	Address      string   `json:"address"`
	Groups       []string `json:"groups"`
	Status       Status   `json:"status"`
	Category     Category `json:"category"`
	Message      string   `json:"message"`
	Remedy       string   `json:"remedy,omitempty"`
	Method       string   `json:"method"`
	OS           string   `json:"os,omitempty"`
	Arch         string   `json:"arch,omitempty"`
	AgentVersion string   `json:"agent_version,omitempty"`
	InstallType  string   `json:"install_type,omitempty"`
	RunAsUser    string   `json:"run_as_user,omitempty"`
	MachineGUID  string   `json:"machine_guid,omitempty"`
	// DuplicateOf names the host seen first in this run with the same
	// machine GUID (category duplicate-machine-guid).
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// DuplicateRun is the earlier run in which DuplicateOf had the GUID,
	// when the two hosts did not meet in this run.
	DuplicateRun string `json:"duplicate_run,omitempty"`
	ClaimedID    string `json:"claimed_id,omitempty"`
	// NodeID is the node id Cloud assigned to the node (Cloud lists nodes
	// by it; it is not the claimed id), as the agent reports it once its
	// link is up, or as found in Cloud's listing by node name.
	NodeID string `json:"node_id,omitempty"`
	// NodeName is the node's name as the agent reports it (Cloud's "nm").
	NodeName string `json:"node_name,omitempty"`
	Online   *bool  `json:"online,omitempty"`
	// OfflineSince is when a claimed node that is offline went offline, by
	// its agent's account (nil when it is online or the agent does not say).
	OfflineSince *time.Time `json:"offline_since,omitempty"`
	// Troubleshooting holds the agent's own Cloud keys, as last read by
	// claim or verify.
	Troubleshooting *Troubleshooting `json:"troubleshooting,omitempty"`
	Rooms           []string         `json:"rooms,omitempty"`
	// Cloud is what Netdata Cloud itself says of the node (when a Cloud
	// API token is configured).
	Cloud    *CloudCheck `json:"cloud,omitempty"`
	Steps    []Step      `json:"steps,omitempty"`
	Attempts int         `json:"attempts"`
	// Plan lists what the run did or, for plan, would do.
	Plan     []string  `json:"plan,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// Ephemeral is the inventory's ephemeral setting ([global] is
	// ephemeral node), when it has one; NetdataConf the netdata.conf keys
	// this run changed ("global/hostname", "host labels/team").
	Ephemeral   *bool    `json:"ephemeral,omitempty"`
	NetdataConf []string `json:"netdata_conf_changed,omitempty"`
}

// CloudCheck is what Netdata Cloud itself says of a host's node.
type CloudCheck struct {
	// Space is the Space asked (its name, or its id when the name is unknown).
	Space string `json:"space"`
	// Listed: Cloud lists the node in at least one of the rooms asked.
	Listed bool `json:"listed"`
	// Rooms are the rooms that list the node; Missing the target rooms
	// that do not (names where known, else ids).
	Rooms   []string `json:"rooms,omitempty"`
	Missing []string `json:"missing,omitempty"`
	// State is Cloud's state of the node: reachable, unreachable, stale,
	// unseen (claimed, never connected), … ("" when not listed).
	State string `json:"state,omitempty"`
	// Confirmed: listed in every target room and reachable.
	Confirmed bool `json:"confirmed"`
	// Added are the rooms --fix-rooms added the node to.
	Added []string `json:"added,omitempty"`
	// Namesakes: the node was looked up by name (its node id unknown) and
	// that many nodes bear the name (more than one: none is taken).
	Namesakes int `json:"namesakes,omitempty"`
	// Error is why Cloud could not be asked.
	Error string `json:"error,omitempty"`
}

// Troubleshooting is what the agent says of its Cloud support and link: the
// keys of its /api/v1/info (read through the SSH connection), or of
// `netdatacli aclk-state` when the API is off. A nil key was not reported.
type Troubleshooting struct {
	CloudEnabled   *bool `json:"cloud-enabled,omitempty"`
	CloudAvailable *bool `json:"cloud-available,omitempty"`
	AgentClaimed   *bool `json:"agent-claimed,omitempty"`
	// ACLKAvailable is true while the agent is connected to Cloud.
	ACLKAvailable *bool `json:"aclk-available,omitempty"`
	// Source: "api-v1" or "aclk-state".
	Source string `json:"source"`
}

// Error is a categorised claim failure.
type Error struct {
	Category Category
	Msg      string
	Err      error
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return e.Msg + ": " + e.Err.Error()
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	}
	return string(e.Category)
}

func (e *Error) Unwrap() error { return e.Err }

// Cat returns the category.
func (e *Error) Cat() Category { return e.Category }

func fail(cat Category, format string, args ...any) *Error {
	return &Error{Category: cat, Msg: fmt.Sprintf(format, args...)}
}

// CategoryOf returns err's category, "claim-failed" when it carries none.
func CategoryOf(err error) Category {
	if c := remote.CategoryOf(err); c != "" {
		return c
	}
	if errors.Is(err, context.Canceled) {
		return CatCanceled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return CatTimeout
	}
	return CatClaimFailed
}
