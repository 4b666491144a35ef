// Package claim decides how each host is claimed, does it, and checks it.
//
// A Claimer takes one resolved inventory host, opens its one connection
// through a Connector, probes it (package remote), picks the method (v2
// claim.conf, v1 claim script, kickstart, docker), claims, and waits until
// the agent reports itself online. Every outcome is a Result with a stable
// status and failure category. Fleet runs a Claimer over many hosts in a
// sliding window. With a Cloud API token, CloudProof asks Netdata Cloud
// whether each node is listed and reachable in its rooms, the waiting nodes
// of a room batched into one request.
package claim
