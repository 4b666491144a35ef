package remote

import "time"

// Defaults of the connection settings. A setting's zero value means its
// default, and each is read through one accessor below (as net/http's
// Transport reads MaxIdleConnsPerHost), never by a fallback written at the
// place it is used.
const (
	// DefaultPort is SSH's port, for a Hop without one.
	DefaultPort = 22
	// DefaultConnectTimeout bounds the TCP connect and, separately, the
	// whole SSH handshake (Target.ConnectTimeout).
	DefaultConnectTimeout = 10 * time.Second
	// DefaultKeepaliveInterval is how often keepalive@openssh.com is sent
	// (Target.KeepaliveInterval).
	DefaultKeepaliveInterval = 15 * time.Second
	// DefaultMaxSessions caps concurrent sessions on a connection, below
	// OpenSSH's default MaxSessions of 10 (Target.MaxSessions).
	DefaultMaxSessions = 8
	// DefaultJumpHandshakes caps concurrent handshakes through one jump
	// host, below OpenSSH's default MaxStartups of 10
	// (DialerOptions.JumpHandshakes).
	DefaultJumpHandshakes = 8
	// DefaultAgentConns is how many connections to ssh-agent a run shares
	// (DialerOptions.AgentConns).
	DefaultAgentConns = 4
)

// Fixed waits and limits of the connection layer: not settings, but named
// once each.
const (
	// keepaliveMisses is how many unanswered keepalives drop a connection.
	keepaliveMisses = 3
	// sessionRetries is how often a refused session is tried again while
	// no other session is open (the server may still be closing one), and
	// sessionRetryStep the wait before the first retry, growing by as
	// much each time.
	sessionRetries   = 3
	sessionRetryStep = 50 * time.Millisecond
	// killGrace is how long a command told to stop (SIGTERM to a remote
	// session, or to a ProxyCommand's process group) has before SIGKILL.
	killGrace = time.Second
	// shellExitWait is how long a closing connection, or a shell that was
	// lost, waits for the shared shell to end before going on.
	shellExitWait = time.Second
	// proxyExitWait is how long a failed handshake waits for its
	// ProxyCommand to end, to say how it ended.
	proxyExitWait = 100 * time.Millisecond
	// cleanupTimeout bounds the commands that remove what a failed upload
	// left on the host, which run even when the upload's context is gone.
	cleanupTimeout = 10 * time.Second
)

func (h Hop) port() int {
	if h.Port != 0 {
		return h.Port
	}
	return DefaultPort
}

func (t *Target) connectTimeout() time.Duration {
	if t.ConnectTimeout > 0 {
		return t.ConnectTimeout
	}
	return DefaultConnectTimeout
}

func (t *Target) keepaliveInterval() time.Duration {
	if t.KeepaliveInterval > 0 {
		return t.KeepaliveInterval
	}
	return DefaultKeepaliveInterval
}

func (t *Target) maxSessions() int {
	if t.MaxSessions > 0 {
		return t.MaxSessions
	}
	return DefaultMaxSessions
}

func (o *DialerOptions) jumpHandshakes() int {
	if o.JumpHandshakes > 0 {
		return o.JumpHandshakes
	}
	return DefaultJumpHandshakes
}

func (o *DialerOptions) agentConns() int {
	if o.AgentConns > 0 {
		return o.AgentConns
	}
	return DefaultAgentConns
}
