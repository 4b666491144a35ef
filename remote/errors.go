package remote

import (
	"errors"
	"fmt"
)

// Categories of failure that the connection layer can tell apart. They are
// stable strings: results files, retry rules and remedies key on them.
const (
	CatConnectRefused   = "connect-refused"
	CatConnectTimeout   = "connect-timeout"
	CatHandshakeTimeout = "handshake-timeout"
	CatConnectionLost   = "connection-lost"
	CatUnreachable      = "unreachable"
	CatDNS              = "dns"
	CatAuth             = "auth-failed"
	CatHostKeyUnknown   = "host-key-unknown"
	CatHostKeyChanged   = "host-key-changed"
	CatHostKeyRevoked   = "host-key-revoked"
	CatNoPrivilege      = "no-privilege"
	CatSudoPassword     = "sudo-password-wrong"
	CatCommand          = "command-failed"
	CatProbe            = "probe-failed"
	CatUpload           = "upload-failed"
	CatInvalidValue     = "invalid-value"
	CatCanceled         = "canceled"
	CatTimeout          = "timeout"
)

// Error is a categorised failure of one operation on one host.
type Error struct {
	Op       string // "dial", "handshake", "run", "upload", "probe"
	Host     string
	Category string
	Err      error
}

func (e *Error) Error() string {
	if e.Host != "" {
		return fmt.Sprintf("%s %s: %v", e.Op, e.Host, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Cat returns the failure category.
func (e *Error) Cat() string { return e.Category }

// Categorized is implemented by every error that carries a category.
type Categorized interface {
	error
	Cat() string
}

// CategoryOf returns the category of the first categorised error in err's
// chain, or "" when there is none.
func CategoryOf(err error) string {
	var c Categorized
	if errors.As(err, &c) {
		return c.Cat()
	}
	return ""
}
