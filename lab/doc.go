// Package lab is fleetclaim's local simulated fleet: the thing `make demo`, the
// end-to-end tests and the benchmarks claim instead of real machines.
//
// One lab process (`fleetclaim lab serve`, normally started in the background by
// `fleetclaim lab up`) owns, under a single directory:
//
//   - N SSH hosts on 127.0.0.1, one TCP port each, each with its own ed25519
//     host key, public-key auth against the lab's client key, `exec` through the
//     real /bin/sh, the sftp subsystem, and direct-tcpip to the host's agent web
//     port served in memory;
//   - one simulated Netdata Agent per host, installed under a per-host prefix with
//     the static-install layout (netdata.conf, .install-type, machine GUID, the
//     netdata, netdatacli and netdata-claim.sh programs, an init script), whose
//     state lives in the lab process and is reached through one shared unix
//     socket (DIR/lab.sock);
//   - a lab Netdata Cloud: an HTTPS claim endpoint with its own CA, one claim
//     token and a Space with a few rooms, plus a read endpoint (/lab/claims)
//     listing the claims it accepted.
//
// Hosts carry a Personality (agent generation, version, injected faults) so the
// same lab can stand for a mixed or misbehaving fleet.
//
// The lab never imports fleetclaim's product packages, and no product package
// imports the lab: the only contract between them is the files the lab writes
// (inventory.yml, known_hosts, the client key, token, cloud-ca.pem, lab.json).
package lab
