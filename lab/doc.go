// Package lab is fleetclaim's local simulated fleet: the thing `make demo`, the
// end-to-end tests and the benchmarks claim instead of real machines. It needs
// no root, no internet, no sshd and no Netdata, and writes only under its
// directory.
//
// The lab is its own command, cmd/fleetlab. One lab process (`fleetlab serve`,
// normally started in the background by `fleetlab up --hosts N --dir DIR` and
// stopped by `fleetlab down --dir DIR`) serves:
//
//   - N SSH hosts on 127.0.0.1, one TCP port each (all accepted by one epoll
//     loop on Linux), each with its own ed25519 host key; public-key auth with
//     the lab's client key only, any user name; `exec` and `shell` through the
//     real /bin/sh in the host's prefix (HOME is the prefix: each host is its
//     own machine); the sftp subsystem; direct-tcpip to the agent's web port on
//     the host's loopback, served in memory by one shared HTTP server. With
//     --tcp-web (Options.TCPWeb) each agent also listens on a real TCP port
//     of its own on 127.0.0.1 (its netdata.conf's [web] default port, in
//     lab.json as web_port) while it runs, so that a real sshd in front of a
//     host forwards to that host's agent.
//   - One simulated Netdata Agent per host, installed under DIR/hosts/NAME with
//     the static-install layout (opt/netdata/{bin,etc/netdata,var/lib/netdata},
//     etc/init.d/netdata). The programs on the host (netdatacli, the init
//     script, a v1 netdata-claim.sh, kickstart.sh) run `fleetlab netdatacli|
//     service|claim-v1|kickstart`, which reach the agent through one unix
//     socket, DIR/lab.sock.
//     The agent's state lives in the lab process and is re-read from disk where
//     a real agent re-reads it, so a restarted lab keeps its claims.
//   - A lab Netdata Cloud over HTTPS with its own CA: the claim endpoint
//     (PUT /api/v1/spaces/nodes/{id}), a user API (see cloudapi.go), and
//     GET /lab/claims, the proof tests and `make demo` read.
//
// Files in DIR: inventory.yml (fleetclaim's native format), known_hosts,
// id_ed25519 and id_ed25519.pub (client key), token (claim token),
// api-token and api-token-readonly (Cloud API), api-faults (optional: API
// answers to inject, see cloudapi.go), cloud-ca.pem, lab.json
// (see Info), lab.pid, lab.log, lab.sock, cloud-requests.log (method, path,
// status: never a body), and the lab's own state: lab-secret (from which host
// keys, machine GUIDs, room ids and tokens derive), agent-rsa.pem (the one
// RSA key pair every agent shares, so the lab never generates RSA per claim),
// cloud-ca.key, cloud-claims.jsonl.
//
// Hosts carry a Personality: the agent generation (v2, v1, nocloud, none),
// its version, and faults injected at one point each (TCP accept, SSH
// handshake, an exec, the agent's claim, the lab Cloud's answer), chosen with
// a spec like "v1=2,nocloud=1,v2+cloud-503=3". Three kinds need more than
// an agent: "distro" is a package without Cloud in the native layout
// (PREFIX/etc/netdata, PREFIX/usr/sbin, no .install-type); "docker" has no
// agent of its own but a `docker` stand-in on its PATH and one running
// container whose agent is a v2 agent (docker.go); "none" has no Netdata
// until DIR/kickstart.sh, pushed and run on it, installs a v2 agent
// (kickstart.go). A login kind ("+sudo", "+sudo-password", "+sudo-tty",
// "+doas", "+runas", "+sudo-runas") makes the host log in as an ordinary user and become
// root through sudo/doas stand-ins that speak real sudo's words
// (become.go); such hosts form the inventory group "become". "+cloned" makes an entry's hosts share one machine GUID;
// an agent re-reads its GUID at start and makes a new one when the file is
// gone, as a real agent does.
//
// Everything the agents, netdatacli, netdata-claim.sh, kickstart.sh's
// stand-in and Cloud say (texts, exit codes, HTTP statuses) is a row of one
// table (messages.go), each naming its source: a Netdata file:line and tag,
// a capture of a real agent under claim/testdata/real, a libcurl error, or
// "lab" with the reason the lab may say it. messages_test.go checks the
// sources and that no other file says anything of its own;
// internal/agenttest checks the capture rows against the real
// agents (CheckCaptureRows).
//
// The lab never imports fleetclaim's product packages (inventory, remote,
// claim), and none of them, nor cmd/fleetclaim, imports the lab: the fleetclaim
// binary's dependencies hold no package of lab/ (cmd/fleetclaim's
// TestProductImportsNoLab checks it), and the contract between the two is the
// files above. Only cmd/fleetlab, cmd/fleetbench and tests import it: tests use
// Start (a lab in-process) or ReadInfo on a lab started with `fleetlab up`, and
// Info.Claims to see what the lab Cloud accepted.
package lab
