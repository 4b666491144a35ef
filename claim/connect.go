package claim

import (
	"context"

	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// SSHConnector connects to inventory hosts with a shared remote.Dialer.
type SSHConnector struct {
	Dialer *remote.Dialer
}

// Connect implements Connector.
func (s SSHConnector) Connect(ctx context.Context, h *inventory.Host) (Conn, error) {
	c, err := s.Dialer.Dial(ctx, Target(h))
	if err != nil {
		// Never a typed nil in the interface: callers test conn != nil.
		return nil, err
	}
	return c, nil
}

// Target maps an inventory host onto what package remote needs to reach it.
func Target(h *inventory.Host) remote.Target {
	t := remote.Target{
		Name:              h.Name,
		Hop:               remote.Hop{User: h.User, Address: h.Address, Port: h.Port},
		IdentityFiles:     h.IdentityFiles,
		KnownHosts:        h.KnownHosts,
		HostKeyPolicy:     h.HostKeyPolicy,
		HostKeyAlias:      h.HostKeyAlias,
		HashKnownHosts:    h.HashKnownHosts,
		ProxyCommand:      h.ProxyCommand,
		CertificateFiles:  h.CertificateFiles,
		IdentityAgent:     h.IdentityAgent,
		IdentitiesOnly:    h.IdentitiesOnly,
		ConnectTimeout:    h.ConnectTimeout,
		KeepaliveInterval: h.ServerAliveInterval,
	}
	for _, j := range h.Jump {
		t.Jump = append(t.Jump, remote.Hop{User: j.User, Address: j.Address, Port: j.Port})
	}
	return t
}
