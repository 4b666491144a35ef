// Package cloud is fleetclaim's side of Netdata Cloud's API: a client
// (API: Spaces, rooms, the nodes of a room, room membership rules, claim
// token rotation) that keeps its API token out of every error and log, and
// the Cloud-side proof (Proof) that asks Cloud, after each host's claim,
// whether the node is listed and reachable in its rooms.
//
// It imports package claim, not the other way round: the proof judges
// claim's per-host records (claim.Result, which carries the answer as a
// claim.CloudCheck) and the API's failures carry claim's categories.
// Package claim needs of Cloud only what unclaim does with it, the
// claim.CloudRooms interface that Target implements.
package cloud
