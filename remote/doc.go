// Package remote owns everything fleetclaim does on the wire and on a host:
// SSH connections (one per host, host keys verified against known_hosts,
// deadlines and keepalives), commands run through a Runner, scripts run
// through one shell session kept open per connection (RunScript), privilege
// (sudo/doas), quoting of every value that reaches a remote shell, and the
// facts a single probe round trip learns about a host.
//
// It imports neither package inventory nor package claim: callers hand it a
// Target and scripts, and get back results, facts and categorised errors.
// It does know Netdata as far as the probe reads it (probe.sh and the facts
// it parses: agent installs, their Cloud state, containers); which claim
// method to use and the claim itself are package claim's.
package remote
