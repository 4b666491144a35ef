package main

import (
	"os"
	"slices"

	"github.com/fleetclaim/fleetclaim/inventory"
)

// dropRoomNamesWithoutAPI: unclaim needs a host's rooms only to take the
// node out of them through the Cloud API. A host without an API token
// (none named, the default variable unset) keeps its room ids only, so
// that room names, which need the API to resolve, do not stop the run. A
// host whose inventory names a token source is left alone: a missing
// token there is an error, as for every command.
func dropRoomNamesWithoutAPI(hosts []*inventory.Host) {
	for _, h := range hosts {
		if apiTokenExplicit(h) {
			continue
		}
		if _, err := h.Claim.APIToken.Resolve(os.LookupEnv); err == nil {
			continue
		}
		h.Claim.Rooms = slices.DeleteFunc(slices.Clone(h.Claim.Rooms), func(r string) bool { return !inventory.IsRoomID(r) })
	}
}
