// Package claim decides how each host is claimed, does it, and checks it.
//
// A Claimer takes one resolved inventory host, opens its one connection
// through a Connector, probes it (package remote), picks the method (v2
// claim.conf, v1 claim script, kickstart, docker), claims, and waits until
// the agent reports itself online. Every outcome is a Result with a stable
// status and failure category, and a Result is what package claim/rollout
// records per host when it runs a Claimer over many hosts in a sliding
// window. Package claim/cloud talks to the Cloud API: with an API token its
// Proof asks Netdata Cloud whether each node is listed and reachable in its
// rooms, and unclaim removes nodes from their rooms through it
// (CloudRooms).
package claim
