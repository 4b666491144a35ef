package remote

import (
	"errors"
	"fmt"
)

// Category names a kind of failure. Categories are stable strings: results
// files, retry rules and the remedies (claim.Remedy) key on them. This file
// defines those the connection layer tells apart; package claim adds the
// claim's own, of the same type, in claim/result.go.
type Category string

// Categories of failure that the connection layer can tell apart.
const (
	CatConnectRefused   Category = "connect-refused"
	CatConnectTimeout   Category = "connect-timeout"
	CatHandshakeTimeout Category = "handshake-timeout"
	CatConnectionLost   Category = "connection-lost"
	CatUnreachable      Category = "unreachable"
	CatDNS              Category = "dns"
	CatAuth             Category = "auth-failed"
	CatHostKeyUnknown   Category = "host-key-unknown"
	CatHostKeyChanged   Category = "host-key-changed"
	CatHostKeyRevoked   Category = "host-key-revoked"
	CatNoPrivilege      Category = "no-privilege"
	CatSudoPassword     Category = "sudo-password-wrong"
	CatCommand          Category = "command-failed"
	CatProbe            Category = "probe-failed"
	CatUpload           Category = "upload-failed"
	CatInvalidValue     Category = "invalid-value"
	CatCanceled         Category = "canceled"
	CatTimeout          Category = "timeout"
)

// Error is a categorised failure of one operation on one host.
type Error struct {
	Op       string // "dial", "handshake", "run", "upload", "probe"
	Host     string
	Category Category
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
func (e *Error) Cat() Category { return e.Category }

// Categorized is implemented by every error that carries a category.
type Categorized interface {
	error
	Cat() Category
}

// CategoryOf returns the category of the first categorised error in err's
// chain, or "" when there is none.
func CategoryOf(err error) Category {
	var c Categorized
	if errors.As(err, &c) {
		return c.Cat()
	}
	return ""
}
