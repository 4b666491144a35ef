package claim

import (
	"context"
	"strings"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// Inspection is what one probe learned about a host, or why it could not.
type Inspection struct {
	Host     string             `json:"host"`
	Address  string             `json:"address"`
	Facts    *remote.ProbeFacts `json:"facts,omitempty"`
	Category Category           `json:"category,omitempty"`
	Error    string             `json:"error,omitempty"`
	Remedy   string             `json:"remedy,omitempty"`
	// Method is what `method: auto` would choose, or why none applies.
	Method string `json:"method,omitempty"`
	Note   string `json:"note,omitempty"`
}

// probeOptions are the probe options a host's inventory settings imply.
func probeOptions(h *inventory.Host) remote.ProbeOptions {
	return remote.ProbeOptions{
		Root: h.Claim.NetdataPrefix, Become: h.Become,
		Docker: h.Claim.Method == MethodDocker, Container: h.Claim.DockerContainer,
	}
}

// Inspect connects to a host, probes it once and says which method claim
// would use. It changes nothing.
func Inspect(ctx context.Context, c Connector, h *inventory.Host) Inspection {
	out := Inspection{Host: h.Name, Address: h.Address}
	setErr := func(err error) Inspection {
		out.Category = CategoryOf(err)
		out.Error = err.Error()
		out.Remedy = remedy(out.Category)
		return out
	}
	conn, err := c.Connect(ctx, h)
	if err != nil {
		return setErr(err)
	}
	defer conn.Close()
	// Through become when the inventory configures it (without a
	// password: facts never prompts), else as the login user.
	var become remote.Runner
	if h.Become == "sudo" || h.Become == "doas" {
		become = remote.Privileged(conn, remote.Become{Method: h.Become}, h.BecomeUser)
	}
	f, _, becomeErr, err := probeHost(ctx, conn, become, probeOptions(h))
	if err != nil {
		return setErr(err)
	}
	if becomeErr != nil {
		out.Note = h.Become + " refused, probed as the login user: " + becomeErr.Error()
	}
	out.Facts = f
	m, err := decide(h, f)
	out.Method = m.name()
	if err != nil {
		out.Category = CategoryOf(err)
		out.Note = strings.TrimPrefix(out.Note+"; "+err.Error(), "; ")
		out.Remedy = remedy(out.Category)
	}
	return out
}
