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
//
// Reading order: claimer.go (Claimer.Do, hostRun.run, hostRun.act, the one
// place where the mode picks what runs), method.go (the method interface
// and decide), then one file per method: claimconf.go and claimscript.go
// (the two installed methods, sharing installed.go's modes and
// reclaim.go's reset), kickstart.go, docker.go; unclaim.go; state.go (the
// agent's state and the wait for online). hostrun.go holds one host's run
// state and its steps: hostRun.wet writes each changing step once, its
// plan lines next to its action, so that a plan lists what a claim does.
package claim
