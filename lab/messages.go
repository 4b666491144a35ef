package lab

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
)

// The lab may not invent what real agents and Netdata Cloud say: every
// message, state and exit code its agents, netdatacli, netdata-claim.sh and
// Cloud produce is a row of msgTable, and the rest of the lab refers to rows
// by id only (messages_test.go checks both).
//
// A row's source is one or more of, separated by "; ":
//   - a Netdata file:line and tag, "src/claim/claim.c:27 v2.11.0", whose line
//     holds the row's text, its format string, or (for a Cloud answer) the
//     errorMsgKey or HTTP status the agent branches on;
//   - a capture of a real agent, "claim/testdata/real/v2.11.0/reload-403.txt"
//     (relative to the repository root), holding the row's text and exit code;
//   - "libcurl CURLE_X": a libcurl curl_easy_strerror text (with CURLE_X as
//     curl's exit code), which the agent prints where its source line
//     passes curl_easy_strerror (claim-with-api.c:363 v2.11.0);
//   - "lab": the lab's own words, with labOnly saying why that is allowed.

// msgID names a row of msgTable.
type msgID string

// msgRow is one thing the lab's agents, tools or Cloud say.
type msgRow struct {
	// text is the exact text, or a fmt format (%s, %d, %t) of it; lines
	// are separated by "\n".
	text string
	// stream is where a tool prints it: "stdout" or "stderr" ("" for an
	// agent's reason or a Cloud answer).
	stream string
	// exit is the tool's exit code (for libcurl rows, curl's).
	exit int
	// status and key are a Cloud answer's HTTP status and errorMsgKey.
	status int
	key    string
	source string
	// labOnly says why a "lab" row may exist: what it is and why it never
	// reaches a classifier that real agents' words would.
	labOnly string
}

// Ids of msgTable's rows.
const (
	// netdatacli (src/cli/cli.c, src/daemon/commands.c at v2.11.0).
	msgCLINotRunning msgID = "cli-not-running"
	msgCLIPong       msgID = "cli-pong"
	msgCLIVersion    msgID = "cli-version"
	msgCLIIllegal    msgID = "cli-illegal-command"
	msgCLINoAnswer   msgID = "cli-no-answer"
	msgCLIConfigCmd  msgID = "cli-config-command"

	// reload-claiming-state of a v2 agent, and its Cloud states.
	msgReloadOnline     msgID = "reload-online"
	msgReloadOffline    msgID = "reload-offline"
	msgReloadNotClaimed msgID = "reload-not-claimed"
	msgReloadIndirect   msgID = "reload-indirect"
	msgOfflineReason    msgID = "offline-reason"
	msgNotClaimedYet    msgID = "reason-not-claimed-yet"

	// netdatacli aclk-state (text).
	msgACLKNone        msgID = "aclk-none"
	msgACLKHead        msgID = "aclk-head"
	msgACLKNotClaimed  msgID = "aclk-not-claimed"
	msgACLKClaimed     msgID = "aclk-claimed"
	msgACLKOnline      msgID = "aclk-online"
	msgACLKLastConn    msgID = "aclk-last-connection"
	msgACLKLastConnAck msgID = "aclk-last-connection-pubacks"
	msgACLKStats       msgID = "aclk-stats"
	msgACLKNode        msgID = "aclk-node-instance"

	// A v2 agent's claim failure reasons (src/claim/claim-with-api.c v2.11.0).
	msgReasonNodeID       msgID = "reason-invalid-node-id"
	msgReasonNodeName     msgID = "reason-invalid-node-name"
	msgReasonRoomID       msgID = "reason-invalid-room-id"
	msgReasonPublicKey    msgID = "reason-invalid-public-key"
	msgReasonDescription  msgID = "reason-description"
	msgReasonNoKey        msgID = "reason-no-key"
	msgReasonEmpty        msgID = "reason-empty"
	msgReasonInProgress   msgID = "reason-in-progress"
	msgReasonForbidden    msgID = "reason-forbidden"
	msgReasonClaimed      msgID = "reason-already-claimed"
	msgReason500          msgID = "reason-500"
	msgReason503          msgID = "reason-503"
	msgReason504          msgID = "reason-504"
	msgReasonOtherStatus  msgID = "reason-other-status"
	msgReasonSave         msgID = "reason-save"
	msgReasonRequest      msgID = "reason-request-failed"
	msgReasonReadPubKey   msgID = "reason-read-public-key"
	msgReasonWritePrivKey msgID = "reason-write-private-key"
	msgReasonWritePubKey  msgID = "reason-write-public-key"

	// libcurl's curl_easy_strerror texts, in a request failure.
	msgCurlCertificate msgID = "curl-peer-failed-verification"
	msgCurlTimeout     msgID = "curl-operation-timedout"
	msgCurlNoProxyName msgID = "curl-couldnt-resolve-proxy"
	msgCurlNoHostName  msgID = "curl-couldnt-resolve-host"
	msgCurlConnect     msgID = "curl-couldnt-connect"
	msgCurlSSLConnect  msgID = "curl-ssl-connect-error"
	msgCurlRecv        msgID = "curl-recv-error"
	msgCurlBadURL      msgID = "curl-url-malformat"

	// netdata-claim.sh of v1 (Debian's 1.37.1).
	msgV1NoCloud       msgID = "v1-built-without-cloud"
	msgV1UnknownArg    msgID = "v1-unknown-argument"
	msgV1GUID          msgID = "v1-guid-unreadable"
	msgV1AttemptOK     msgID = "v1-attempt-successful"
	msgV1AttemptFailed msgID = "v1-attempt-failed"
	msgV1Connect       msgID = "v1-connect-failed"
	msgV1ClaimFailed   msgID = "v1-claim-failed"
	msgV1NotNotified   msgID = "v1-agent-not-notified"
	msgV1Claimed       msgID = "v1-claimed"
	msgV1ProxyAdvice   msgID = "v1-proxy-advice"
	msgV1ErrUnknown    msgID = "v1-error-unknown"
	msgV1ErrNodeID     msgID = "v1-error-invalid-node-id"
	msgV1ErrNodeName   msgID = "v1-error-invalid-node-name"
	msgV1ErrRoomID     msgID = "v1-error-invalid-room-id"
	msgV1ErrPublicKey  msgID = "v1-error-invalid-public-key"
	msgV1ErrForbidden  msgID = "v1-error-forbidden"
	msgV1ErrClaimed    msgID = "v1-error-already-claimed"
	msgV1ErrProcessing msgID = "v1-error-processing"
	msgV1Err500        msgID = "v1-error-internal"
	msgV1Err504        msgID = "v1-error-gateway-timeout"
	msgV1Err503        msgID = "v1-error-unavailable"
	msgV1ClaimHang     msgID = "v1-claim-hang"

	// Netdata Cloud's answers to the claim request.
	msgCloudNodeID     msgID = "cloud-invalid-node-id"
	msgCloudForbidden  msgID = "cloud-forbidden"
	msgCloudNodeName   msgID = "cloud-invalid-node-name"
	msgCloudRoomID     msgID = "cloud-invalid-room-id"
	msgCloudPublicKey  msgID = "cloud-invalid-public-key"
	msgCloudClaimed    msgID = "cloud-already-claimed"
	msgCloudProcessing msgID = "cloud-processing"
	msgCloud500        msgID = "cloud-internal"
	msgCloudStore      msgID = "cloud-cannot-store"
	msgCloud503        msgID = "cloud-unavailable"
	msgCloud504        msgID = "cloud-gateway-timeout"
	msgCloudHostile    msgID = "cloud-hostile-key"
	msgCloudBadBody    msgID = "cloud-bad-body"
	msgCloudBadJSON    msgID = "cloud-bad-json"
	msgCloudNotFound   msgID = "cloud-not-found"

	// Netdata Cloud's REST API (v2/v3) as the lab serves it.
	msgAPIScope        msgID = "api-scope"
	msgAPIUnauthorized msgID = "api-unauthorized"
	msgAPISpace        msgID = "api-space-not-found"
	msgAPIRoom         msgID = "api-room-not-found"
	msgAPIRule         msgID = "api-rule-not-found"
	msgAPIMethod       msgID = "api-method-not-allowed"
	msgAPIBadRequest   msgID = "api-bad-request"
	msgAPINotInSpace   msgID = "api-node-not-in-space"
	msgAPIStoreToken   msgID = "api-cannot-store-token"
	msgAPIFault        msgID = "api-lab-fault"

	// The lab's init script stand-in and its control socket.
	msgSvcAlreadyRunning msgID = "service-already-running"
	msgSvcStarting       msgID = "service-starting"
	msgSvcNotRunning     msgID = "service-not-running"
	msgSvcStopping       msgID = "service-stopping"
	msgSvcRestarting     msgID = "service-restarting"
	msgSvcRunning        msgID = "service-running"
	msgSvcStatusStopped  msgID = "service-status-stopped"
	msgSvcUsage          msgID = "service-usage"
	msgSvcLabGone        msgID = "service-lab-gone"
	msgHelperLabGone     msgID = "helper-lab-gone"
	msgCtlNoAgent        msgID = "ctl-no-agent"

	// kickstart.sh's stand-in (lab/kickstart.go).
	msgKSPrefix        msgID = "kickstart-install-prefix"
	msgKSClaim         msgID = "kickstart-claim"
	msgKSUnknownOption msgID = "kickstart-unknown-option"
	msgKSNeedsValue    msgID = "kickstart-needs-value"
	msgKSBuildOnly     msgID = "kickstart-build-only"
	msgKSInteractive   msgID = "kickstart-interactive"
	msgKSNotLabHost    msgID = "kickstart-not-lab-host"
	msgKSAlready       msgID = "kickstart-already-installed"
	msgKSFailed        msgID = "kickstart-install-failed"
	msgKSInstalled     msgID = "kickstart-installed"
	msgWebMethod       msgID = "web-method-not-allowed"
	msgCtlUnknownOp    msgID = "ctl-unknown-op"
)

// Why lab rows exist (labOnly).
const (
	whyInit = "the lab's stand-in for an init script (real hosts run systemd or another init system, whose words " +
		"vary); fleetclaim reads only its exit code, the LSB status codes (0 running, 3 not running)"
	whyRESTAPI = "the Cloud REST API's error body: no Netdata source or capture holds the real texts; fleetclaim " +
		"classifies Cloud API errors by HTTP status and shows errorMessage only as text"
	whyCloudText = "errorMessage of a claim answer: the agents read only errorMsgKey and the HTTP status " +
		"(claim-with-api.c:396-451 v2.11.0, netdata-claim.sh.in:371-384 v1.37.1), never this text"
	whyKickstart = "the lab's kickstart.sh stand-in, which installs through the lab process and refuses what it does " +
		"not do: fleetclaim reads kickstart's exit code and shows its stderr as text only (claim/kickstart.go)"
	whyLabCtl = "the lab's own control path (the lab process is gone): no real host has it, and " +
		"fleetclaim's tests treat it as a broken lab"
)

func capture(name string) string { return "claim/testdata/real/" + name + ".txt" }

// msgTable is every row: the groups of msgGroups, one per tool or
// source. It is a function, not a package variable: the lab keeps no
// globals.
func msgTable() map[msgID]msgRow {
	t := map[msgID]msgRow{}
	for _, g := range msgGroups() {
		maps.Copy(t, g)
	}
	return t
}

// msgGroups are the rows, grouped by the tool or source that says them.
// A message is in one group only (TestMessageGroupsDisjoint).
func msgGroups() []map[msgID]msgRow {
	return []map[msgID]msgRow{
		cliRows(),
		reloadRows(),
		aclkRows(),
		claimReasonRows(),
		curlRows(),
		v1Rows(),
		cloudRows(),
		apiRows(),
		serviceRows(),
		kickstartRows(),
		labRows(),
	}
}

// cliRows are netdatacli's rows: its own words (src/cli/cli.c) and the
// agent's answers to its commands (src/daemon/commands.c).
func cliRows() map[msgID]msgRow {
	return map[msgID]msgRow{
		msgCLINotRunning: {text: "uv_pipe_connect(): no such file or directory\nCannot connect to '%s'.\nMake sure the netdata service is running.",
			stream: "stderr", exit: 255, source: "src/cli/cli.c:156 v2.11.0; src/cli/cli.c:157 v2.11.0; " + capture("v2.11.0/ping-no-agent")},
		msgCLIPong:    {text: "pong", stream: "stdout", source: "src/daemon/commands.c:318 v2.11.0; " + capture("v2.11.0/ping-ready")},
		msgCLIVersion: {text: "netdata v%s", stream: "stdout", source: "src/daemon/commands.c:339 v2.11.0"},
		msgCLIIllegal: {text: "Illegal command. Please type \"help\" for instructions.", stream: "stderr", exit: 1,
			source: "src/daemon/commands.c:747 v2.11.0"},
		msgCLINoAnswer: {exit: 255, source: "lab",
			labOnly: "a command the agent never answers (it exits first, or the claim hangs): netdatacli's exit code is that of a " +
				"broken pipe; no capture has it, and fleetclaim treats any failure of these commands alike"},
		msgCLIConfigCmd: {exit: 1, source: "lab",
			labOnly: "read-config/write-config, which fleetclaim never runs: the lab refuses them"},
	}
}

// reloadRows are netdatacli reload-claiming-state's: the agent's answer
// (src/daemon/commands.c) and the reasons it gives.
func reloadRows() map[msgID]msgRow {
	return map[msgID]msgRow{
		msgReloadOnline: {text: "Netdata Agent is claimed to Netdata Cloud and is currently online.", stream: "stdout",
			source: "src/daemon/commands.c:198 v2.11.0; " + capture("v2.11.0/online/reload-online")},
		msgReloadOffline: {text: "Netdata Agent is claimed to Netdata Cloud, but it is currently offline: %s", stream: "stdout",
			source: "src/daemon/commands.c:215 v2.11.0; " + capture("v2.11.0/reload-204-offline")},
		msgReloadNotClaimed: {text: "Netdata Agent is not claimed to Netdata Cloud: %s", stream: "stdout",
			source: "src/daemon/commands.c:209 v2.11.0; " + capture("v2.11.0/reload-unclaimed")},
		msgReloadIndirect: {text: "Netdata Agent is not claimed to Netdata Cloud, but it is currently online via parent.", stream: "stdout",
			source: "src/daemon/commands.c:221 v2.11.0"},
		msgOfflineReason: {text: "https client failed to write http header", source: "src/aclk/https_client.c:62 v2.11.0"},
		msgNotClaimedYet: {text: "Agent is not claimed yet", source: "src/claim/claim.c:27 v2.11.0; " + capture("v2.11.0/reload-unclaimed")},
	}
}

// aclkRows are netdatacli aclk-state's: the agent's report of its link to
// Cloud (aclk/aclk.c v1, src/aclk/aclk.c v2).
func aclkRows() map[msgID]msgRow {
	return map[msgID]msgRow{
		msgACLKNone: {text: "ACLK Available: No", source: "aclk/aclk.c:897 v1.37.1"},
		msgACLKHead: {text: "ACLK Available: Yes\nACLK Version: 2\nProtocols Supported: Protobuf\nProtocol Used: Protobuf\nMQTT Version: %d\nClaimed: ",
			source: "src/aclk/aclk.c:1089 v2.11.0; src/aclk/aclk.c:1093 v2.11.0; " + capture("v2.11.0/aclk-state-unclaimed")},
		msgACLKNotClaimed: {text: "No\n", source: "src/aclk/aclk.c:1097 v2.11.0; " + capture("v2.11.0/aclk-state-unclaimed")},
		msgACLKClaimed: {text: "Yes\nClaimed Id: %s\nCloud URL: %s\nACLK Proxy: %s\nPublish Latency: %s\n",
			source: "src/aclk/aclk.c:1107 v2.11.0; " + capture("v2.11.0/aclk-state-claimed-offline")},
		msgACLKOnline: {text: "Online: %s\nReconnect count: %d\nBanned By Cloud: %s\n",
			source: "src/aclk/aclk.c:1125 v2.11.0; " + capture("v2.11.0/aclk-state-unclaimed")},
		msgACLKLastConn:    {text: "Last Connection Time: %s\n", source: "src/aclk/aclk.c:1129 v2.11.0; " + capture("v2.11.0/online/aclk-state-online")},
		msgACLKLastConnAck: {text: "Last Connection Time + %d PUBACKs received: %s\n", source: "src/aclk/aclk.c:1134 v2.11.0"},
		msgACLKStats: {text: "Received Cloud MQTT Messages: %d\nMQTT Messages Confirmed by Remote Broker (PUBACKs): %d\nPending PUBACKS: %d\nServer Receive Maximum: %d\n",
			source: "src/aclk/aclk.c:1150 v2.11.0; " + capture("v2.11.0/online/aclk-state-online")},
		msgACLKNode: {text: "\n\n> Node Instance for mGUID: \"%s\" hostname \"%s\"\n\tClaimed ID: %s\n\tNode ID: %s\n\tStreaming Hops: %d\n\tRelationship: %s" +
			"\n\tAlert Streaming Status:\n\t\tUpdates: %d\n\t\tCheckpoints: %d\n\t\tAlert count: %d\n\t\tAlert snapshot count: %d",
			source: "src/aclk/aclk.c:1157 v2.11.0; src/aclk/aclk.c:1174 v2.11.0; src/aclk/aclk.c:1069 v2.11.0; " + capture("v2.11.0/online/aclk-state-online")},
	}
}

// claimReasonRows are the reasons a v2 agent gives for a failed claim
// (src/claim/claim-with-api.c v2.11.0).
func claimReasonRows() map[msgID]msgRow {
	const cwa = "src/claim/claim-with-api.c:"
	const v2 = " v2.11.0"
	return map[msgID]msgRow{
		msgReasonNodeID:      {key: "ErrInvalidNodeID", text: "Failed: the node id is invalid", source: cwa + "403" + v2 + "; " + capture("v2.11.0/reload-422-ErrInvalidNodeID")},
		msgReasonNodeName:    {key: "ErrInvalidNodeName", text: "Failed: the node name is invalid", source: cwa + "405" + v2 + "; " + capture("v2.11.0/reload-422-ErrInvalidNodeName")},
		msgReasonRoomID:      {key: "ErrInvalidRoomID", text: "Failed: one or more room ids are invalid", source: cwa + "407" + v2 + "; " + capture("v2.11.0/reload-422-ErrInvalidRoomID")},
		msgReasonPublicKey:   {key: "ErrInvalidPublicKey", text: "Failed: the public key is invalid", source: cwa + "409" + v2 + "; " + capture("v2.11.0/reload-422-ErrInvalidPublicKey")},
		msgReasonDescription: {text: "Failed with description '%s'", source: cwa + "411" + v2 + "; " + capture("v2.11.0/reload-422-unknown-key")},
		msgReasonNoKey:       {text: "Failed with a response code %d", source: cwa + "414" + v2},
		msgReasonEmpty:       {text: "Failed with an empty response, code %d", source: cwa + "422" + v2 + "; " + capture("v2.11.0/reload-422-empty")},
		msgReasonInProgress:  {text: "Claiming is in progress", source: cwa + "427" + v2},
		msgReasonForbidden:   {text: "Failed: token is expired, not found, or invalid", source: cwa + "431" + v2 + "; " + capture("v2.11.0/reload-403")},
		msgReasonClaimed:     {text: "Failed: agent is already claimed", source: cwa + "435" + v2 + "; " + capture("v2.11.0/reload-409")},
		msgReason500:         {text: "Failed: received Internal Server Error", source: cwa + "439" + v2 + "; " + capture("v2.11.0/reload-500")},
		msgReason503:         {text: "Failed: Netdata Cloud is unavailable", source: cwa + "443" + v2 + "; " + capture("v2.11.0/reload-503")},
		msgReason504:         {text: "Failed: Gateway Timeout", source: cwa + "447" + v2 + "; " + capture("v2.11.0/reload-504")},
		msgReasonOtherStatus: {text: "Failed with response code %d", source: cwa + "451" + v2},
		msgReasonSave:        {text: "Failed to save claiming info to disk", source: cwa + "381" + v2},
		msgReasonRequest: {text: "Request failed with error: %s\nproxy: '%s',\ninsecure: %t,\npublic key file: '%s',\ntrusted key file: '%s'",
			source: cwa + "358" + v2 + "; " + capture("v2.11.0/reload-connect-failed")},
		msgReasonReadPubKey:   {text: "cannot read public key file '%s'", source: cwa + "221" + v2},
		msgReasonWritePrivKey: {text: "Cannot write private key file: %s", source: cwa + "64" + v2},
		msgReasonWritePubKey:  {text: "Cannot write public key file: %s", source: cwa + "78" + v2},
	}
}

// curlRows are libcurl's errors, as an agent reports a claim request that
// failed on the way.
func curlRows() map[msgID]msgRow {
	return map[msgID]msgRow{
		msgCurlCertificate: {text: "SSL peer certificate or SSH remote key was not OK", exit: 60,
			source: "libcurl CURLE_PEER_FAILED_VERIFICATION; " + capture("v2.11.0/reload-untrusted-certificate")},
		msgCurlTimeout:     {text: "Timeout was reached", exit: 28, source: "libcurl CURLE_OPERATION_TIMEDOUT"},
		msgCurlNoProxyName: {text: "Couldn't resolve proxy name", exit: 5, source: "libcurl CURLE_COULDNT_RESOLVE_PROXY"},
		msgCurlNoHostName:  {text: "Couldn't resolve host name", exit: 6, source: "libcurl CURLE_COULDNT_RESOLVE_HOST"},
		msgCurlConnect: {text: "Couldn't connect to server", exit: 7,
			source: "libcurl CURLE_COULDNT_CONNECT; " + capture("v2.11.0/reload-connect-failed")},
		msgCurlSSLConnect: {text: "SSL connect error", exit: 35, source: "libcurl CURLE_SSL_CONNECT_ERROR"},
		msgCurlRecv:       {text: "Failure when receiving data from the peer", exit: 56, source: "libcurl CURLE_RECV_ERROR"},
		msgCurlBadURL:     {text: "URL using bad/illegal format or missing URL", exit: 3, source: "libcurl CURLE_URL_MALFORMAT"},
	}
}

// v1Rows are v1's netdata-claim.sh's: its messages and exit codes
// (claim/netdata-claim.sh.in v1.37.1, captures).
func v1Rows() map[msgID]msgRow {
	return map[msgID]msgRow{
		msgV1NoCloud: {text: "This agent was built with --disable-cloud and cannot be claimed", stream: "stderr", exit: 3,
			source: capture("v1.37.1/exit3-built-without-cloud")},
		msgV1UnknownArg: {text: "Unknown argument %s", stream: "stderr", exit: 1, source: capture("v1.37.1/exit1-unknown-argument")},
		msgV1GUID: {text: "netdata.public.unique.id is not readable. Please make sure you have rights to read it (Filename: %s).",
			stream: "stderr", exit: 18, source: capture("v1.37.1/exit18-guid-unreadable")},
		msgV1AttemptOK:     {text: "Connection attempt %d successful", stream: "stdout", source: capture("v1.37.1/exit0-noreload")},
		msgV1AttemptFailed: {text: "Connection attempt %d failed. Retry in %ds.", stream: "stdout", exit: 7, source: capture("v1.37.1/exit7-connect-failed")},
		msgV1Connect: {text: "Failed to connect to %s, return code %d", stream: "stderr", exit: 7,
			source: capture("v1.37.1/exit7-connect-failed") + "; " + capture("v1.37.1/exit7-untrusted-certificate")},
		msgV1ClaimFailed: {text: "Failed to claim node with the following error message:\"%s\"", stream: "stderr",
			source: capture("v1.37.1/exit12-ErrForbidden")},
		msgV1NotNotified: {text: "%sThe claim was successful but the agent could not be notified (%d)- it requires a restart to connect to the cloud.",
			stream: "stderr", exit: 5, source: "claim/netdata-claim.sh.in:433 v1.37.1; " + capture("v1.37.1/exit5-agent-not-told")},
		// The agent running, netdatacli reload-claiming-state told it.
		msgV1Claimed: {text: "%sNode was successfully claimed.", stream: "stderr", source: "claim/netdata-claim.sh.in:421 v1.37.1"},
		msgV1ProxyAdvice: {text: "You have attempted to claim this node through a proxy - please update your the proxy setting in your netdata.conf to %s. ",
			source: "claim/netdata-claim.sh.in:414 v1.37.1"},
		msgV1ErrUnknown:    {text: "Unknown HTTP error message", exit: 7, source: capture("v1.37.1/exit7-422-unknown-key")},
		msgV1ErrNodeID:     {text: "invalid node id", exit: 8, key: "ErrInvalidNodeID", source: capture("v1.37.1/exit8-ErrInvalidNodeID")},
		msgV1ErrNodeName:   {text: "invalid node name", exit: 9, key: "ErrInvalidNodeName", source: capture("v1.37.1/exit9-ErrInvalidNodeName")},
		msgV1ErrRoomID:     {text: "invalid room id", exit: 10, key: "ErrInvalidRoomID", source: capture("v1.37.1/exit10-ErrInvalidRoomID")},
		msgV1ErrPublicKey:  {text: "invalid public key", exit: 11, key: "ErrInvalidPublicKey", source: capture("v1.37.1/exit11-ErrInvalidPublicKey")},
		msgV1ErrForbidden:  {text: "token expired/token not found/invalid token", exit: 12, key: "ErrForbidden", source: capture("v1.37.1/exit12-ErrForbidden")},
		msgV1ErrClaimed:    {text: "already claimed", exit: 13, key: "ErrAlreadyClaimed", source: capture("v1.37.1/exit13-ErrAlreadyClaimed")},
		msgV1ErrProcessing: {text: "processing claiming", exit: 14, key: "ErrProcessingClaim", source: capture("v1.37.1/exit14-ErrProcessingClaim")},
		msgV1Err500:        {text: "Internal Server Error", exit: 15, key: "ErrInternalServerError", source: capture("v1.37.1/exit15-ErrInternalServerError")},
		msgV1Err504:        {text: "Gateway Timeout", exit: 16, key: "ErrGatewayTimeout", source: capture("v1.37.1/exit16-ErrGatewayTimeout")},
		msgV1Err503:        {text: "Service Unavailable", exit: 17, key: "ErrServiceUnavailable", source: capture("v1.37.1/exit17-ErrServiceUnavailable")},
		msgV1ClaimHang: {exit: 255, source: "lab",
			labOnly: "FaultClaimHang: a claim that never returns, ended by the caller's deadline; what a killed script " +
				"returns is the killer's, and fleetclaim reports the deadline, not this code"},
	}
}

// cloudRows are the lab Cloud's answers to a claim: the status and
// errorMsgKey an agent reads (src/claim/claim-with-api.c v2.11.0).
func cloudRows() map[msgID]msgRow {
	const cwa = "src/claim/claim-with-api.c:"
	const v2 = " v2.11.0"
	return map[msgID]msgRow{
		msgCloudNodeID:    {text: "invalid node id", status: http.StatusUnprocessableEntity, key: "ErrInvalidNodeID", source: cwa + "402" + v2, labOnly: whyCloudText},
		msgCloudForbidden: {text: "token is expired, not found, or invalid", status: http.StatusForbidden, key: "ErrForbidden", source: cwa + "430" + v2, labOnly: whyCloudText},
		msgCloudNodeName:  {text: "invalid node name", status: http.StatusUnprocessableEntity, key: "ErrInvalidNodeName", source: cwa + "404" + v2, labOnly: whyCloudText},
		msgCloudRoomID:    {text: "invalid room id", status: http.StatusUnprocessableEntity, key: "ErrInvalidRoomID", source: cwa + "406" + v2, labOnly: whyCloudText},
		msgCloudPublicKey: {text: "invalid public key", status: http.StatusUnprocessableEntity, key: "ErrInvalidPublicKey", source: cwa + "408" + v2, labOnly: whyCloudText},
		msgCloudClaimed:   {text: "node is already claimed", status: http.StatusConflict, key: "ErrAlreadyClaimed", source: cwa + "434" + v2, labOnly: whyCloudText},
		// Real Cloud answers 102 (claim-with-api.c:426); HTTP clients take a
		// 1xx as informational and keep waiting, so the lab sends a final
		// 503 carrying the key.
		msgCloudProcessing: {text: "claim is being processed", status: http.StatusServiceUnavailable, key: "ErrProcessingClaim",
			source: cwa + "442" + v2, labOnly: whyCloudText + "; 503, not 102: a Go client cannot end a request on a 1xx"},
		msgCloud500:     {text: "internal server error", status: http.StatusInternalServerError, key: "ErrInternalServerError", source: cwa + "438" + v2, labOnly: whyCloudText},
		msgCloudStore:   {text: "cannot store claim", status: http.StatusInternalServerError, key: "ErrInternalServerError", source: cwa + "438" + v2, labOnly: whyCloudText},
		msgCloud503:     {text: "service unavailable", status: http.StatusServiceUnavailable, key: "ErrServiceUnavailable", source: cwa + "442" + v2, labOnly: whyCloudText},
		msgCloud504:     {text: "gateway timeout", status: http.StatusGatewayTimeout, key: "ErrGatewayTimeout", source: cwa + "446" + v2, labOnly: whyCloudText},
		msgCloudHostile: {text: "invalid request", status: http.StatusUnprocessableEntity, key: HostileErrorKey, source: cwa + "390" + v2, labOnly: whyCloudText},
		msgCloudBadBody: {text: "cannot read request body", status: http.StatusBadRequest, key: "ErrBadRequest", source: "lab",
			labOnly: "a claim body the lab cannot read: real agents always send one (claim-request capture); " + whyCloudText},
		msgCloudBadJSON: {text: "request body is not valid JSON", status: http.StatusBadRequest, key: "ErrBadRequest", source: "lab",
			labOnly: "a claim body that is not JSON: real agents always send JSON (claim-request capture); " + whyCloudText},
		msgCloudNotFound: {text: "not found", status: http.StatusNotFound, key: "ErrNotFound", source: "lab", labOnly: whyRESTAPI},
	}
}

// apiRows are the lab Cloud's user API's (cloudapi.go): the lab's own.
func apiRows() map[msgID]msgRow {
	return map[msgID]msgRow{
		msgAPIScope:        {text: "the API token lacks the scope for this operation", status: http.StatusForbidden, key: "ErrForbidden", source: "lab", labOnly: whyRESTAPI},
		msgAPIUnauthorized: {text: "missing or invalid API token", status: http.StatusUnauthorized, key: "ErrUnauthorized", source: "lab", labOnly: whyRESTAPI},
		msgAPISpace:        {text: "space not found", status: http.StatusNotFound, key: "ErrSpaceNotFound", source: "lab", labOnly: whyRESTAPI},
		msgAPIRoom:         {text: "room not found", status: http.StatusNotFound, key: "ErrRoomNotFound", source: "lab", labOnly: whyRESTAPI},
		msgAPIRule:         {text: "rule not found", status: http.StatusNotFound, key: "ErrNotFound", source: "lab", labOnly: whyRESTAPI},
		msgAPIMethod:       {text: "method not allowed", status: http.StatusMethodNotAllowed, key: "ErrMethodNotAllowed", source: "lab", labOnly: whyRESTAPI},
		msgAPIBadRequest:   {text: "%s", status: http.StatusBadRequest, key: "ErrBadRequest", source: "lab", labOnly: whyRESTAPI},
		msgAPINotInSpace:   {text: "node %s is not claimed in this space", status: http.StatusUnprocessableEntity, key: "ErrInvalidNodeID", source: "lab", labOnly: whyRESTAPI},
		msgAPIStoreToken:   {text: "cannot store the new token", status: http.StatusInternalServerError, key: "ErrInternalServerError", source: "lab", labOnly: whyRESTAPI},
		msgAPIFault: {text: "lab API fault %s", key: "ErrLabFault", source: "lab",
			labOnly: "an API fault a test injects, with the status the test asks for; " + whyRESTAPI},
	}
}

// serviceRows are the init script stand-in's (etc/init.d/netdata on a lab
// host).
func serviceRows() map[msgID]msgRow {
	return map[msgID]msgRow{
		msgSvcAlreadyRunning: {text: "netdata is already running", stream: "stdout", source: "lab", labOnly: whyInit},
		msgSvcStarting:       {text: "Starting netdata: OK", stream: "stdout", source: "lab", labOnly: whyInit},
		msgSvcNotRunning:     {text: "netdata is not running", stream: "stdout", source: "lab", labOnly: whyInit},
		msgSvcStopping:       {text: "Stopping netdata: OK", stream: "stdout", source: "lab", labOnly: whyInit},
		msgSvcRestarting:     {text: "Restarting netdata: OK", stream: "stdout", source: "lab", labOnly: whyInit},
		msgSvcRunning:        {text: "netdata is running", stream: "stdout", source: "lab", labOnly: whyInit},
		msgSvcStatusStopped:  {text: "netdata is not running", stream: "stdout", exit: 3, source: "lab", labOnly: whyInit},
		msgSvcUsage: {text: "Usage: /etc/init.d/netdata {start|stop|restart|force-reload|status}", stream: "stderr", exit: 2,
			source: "lab", labOnly: whyInit},
	}
}

// kickstartRows are the kickstart.sh stand-in's (kickstart.go).
func kickstartRows() map[msgID]msgRow {
	return map[msgID]msgRow{
		msgKSPrefix: {text: " ABORTED  The --install-prefix option is only supported together with the --build-only option.", stream: "stderr", exit: 1,
			source: "packaging/installer/kickstart.sh:1366 v2.11.0"},
		msgKSClaim: {text: "ABORTED  the lab's kickstart.sh does not claim: claim after the install", stream: "stderr", exit: 1, source: "lab", labOnly: whyKickstart},
		msgKSUnknownOption: {text: "ABORTED  Unrecognized option '%s'", stream: "stderr", exit: 1, source: "lab",
			labOnly: whyKickstart + "; the real F050E line (kickstart.sh:2850 v2.11.0) goes on with a long BADOPT_MSG"},
		msgKSNeedsValue:  {text: "ABORTED  %s needs a value", stream: "stderr", exit: 1, source: "lab", labOnly: whyKickstart},
		msgKSBuildOnly:   {text: "ABORTED  the lab's kickstart.sh installs static builds only", stream: "stderr", exit: 1, source: "lab", labOnly: whyKickstart},
		msgKSInteractive: {text: "ABORTED  kickstart.sh would ask for confirmation: run it with --non-interactive", stream: "stderr", exit: 1, source: "lab", labOnly: whyKickstart},
		msgKSNotLabHost:  {text: "ABORTED  the lab installs only on a lab host, not %q", stream: "stderr", exit: 1, source: "lab", labOnly: whyKickstart},
		msgKSAlready:     {text: " OK  Netdata is already installed in %s: nothing to do", stream: "stdout", source: "lab", labOnly: whyKickstart},
		msgKSFailed:      {text: "FAILED  install: %v", stream: "stderr", exit: 1, source: "lab", labOnly: whyKickstart},
		msgKSInstalled:   {text: " OK  Netdata v%s (static build) installed to %s and started", stream: "stdout", source: "lab", labOnly: whyKickstart},
	}
}

// labRows are the lab's own paths': its control socket, a host without an
// agent, the agent's web API.
func labRows() map[msgID]msgRow {
	return map[msgID]msgRow{
		msgSvcLabGone: {text: "netdata: the fleetclaim lab is not running (%v)", stream: "stderr", exit: 1, source: "lab", labOnly: whyLabCtl},
		msgCtlNoAgent: {text: "fleetclaim lab: host %q has no Netdata Agent", stream: "stderr", exit: 127, source: "lab",
			labOnly: "a host without an agent has no netdatacli: the shell's \"command not found\" exit code 127, in the lab's words"},
		msgWebMethod: {text: "method not allowed", status: http.StatusMethodNotAllowed, source: "lab",
			labOnly: "the agent's web API asked with a method other than GET or HEAD, which fleetclaim never sends"},
		msgCtlUnknownOp:  {text: "fleetclaim lab: unknown control operation %q", stream: "stderr", exit: 2, source: "lab", labOnly: whyLabCtl},
		msgHelperLabGone: {text: "fleetclaim lab is not running (%v)", stream: "stderr", exit: 5, source: "lab", labOnly: whyLabCtl},
	}
}

type cliCommand struct{ name, args, help string }

// netdatacliCommands are the commands of the agent's command server, in its
// order, with their help texts: command_info_array of
// src/daemon/commands.c:62-76 v2.11.0 (messages_test.go checks each).
func netdatacliCommands() []cliCommand {
	return []cliCommand{
		{"help", "", "Show this help menu."},
		{"reload-health", "", "Reload health configuration."},
		{"reopen-logs", "", "Close and reopen log files."},
		{"shutdown-agent", "", "Cleanup and exit the netdata agent."},
		{"fatal-agent", "", "Log the state and halt the netdata agent."},
		{"reload-claiming-state", "", "Reload agent claiming state from disk."},
		{"reload-labels", "", "Reload all localhost labels."},
		{"read-config", "", ""},
		{"write-config", "", ""},
		{"ping", "", "Return with 'pong'; exit 0 when ready, 1 while initializing, 255 if the agent cannot be contacted."},
		{"aclk-state", "[json]", "Returns current state of ACLK and Netdata Cloud connection. (optionally in json)."},
		{"version", "", "Returns the netdata version."},
		{"dumpconfig", "", "Returns the current netdata.conf on stdout."},
	}
}

// msgRowOf returns id's row; an id without a row is a lab bug.
func msgRowOf(id msgID) msgRow {
	r, ok := msgTable()[id]
	if !ok {
		panic("lab: no message row " + string(id))
	}
	return r
}

// msgf is row id's text with args.
func msgf(id msgID, args ...any) string {
	r := msgRowOf(id)
	if len(args) == 0 {
		return r.text
	}
	return fmt.Sprintf(r.text, args...)
}

// msgExit is row id's exit code.
func msgExit(id msgID) int { return msgRowOf(id).exit }

// reply is a tool's answer: row id's text on its stream, with its exit code.
func reply(id msgID, args ...any) ctlReply {
	r := msgRowOf(id)
	rep := ctlReply{Exit: r.exit}
	rep.add(id, args...)
	return rep
}

// add appends row id's text, as a line, to the stream the row names.
func (rep *ctlReply) add(id msgID, args ...any) {
	r := msgRowOf(id)
	if r.text == "" {
		return
	}
	line := msgf(id, args...) + "\n"
	if r.stream == "stderr" {
		rep.Stderr += line
	} else {
		rep.Stdout += line
	}
}

// reason422Row is a v2 agent's reason for a 422 answer with errorMsgKey key
// (claim-with-api.c:402-411 v2.11.0), "" for a key it does not know.
func reason422Row(key string) msgID {
	for _, id := range []msgID{msgReasonNodeID, msgReasonNodeName, msgReasonRoomID, msgReasonPublicKey} {
		if msgRowOf(id).key == key {
			return id
		}
	}
	return ""
}

// v1ErrorRow is the row of netdata-claim.sh's ERROR_MESSAGES for Cloud's
// errorMsgKey: only the key decides the exit code (netdata-claim.sh.in:371-384
// v1.37.1), any other key being "Unknown HTTP error message", exit 7.
func v1ErrorRow(key string) msgID {
	for id, r := range msgTable() {
		if strings.HasPrefix(string(id), "v1-error-") && r.key != "" && r.key == key {
			return id
		}
	}
	return msgV1ErrUnknown
}
