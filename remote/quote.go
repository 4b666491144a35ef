package remote

import (
	"errors"
	"strings"
)

// errNUL is Quote's error (inside a CatInvalidValue Error) for a value
// holding a NUL byte, which no shell argument can carry.
var errNUL = errors.New("value contains a NUL byte, which cannot be passed to a remote shell")

// Quote returns s as one POSIX shell word: the remote shell receives exactly
// the bytes of s as one argument, whatever they are. A NUL byte cannot be
// carried and is an error.
func Quote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", &Error{Op: "quote", Category: CatInvalidValue, Err: errNUL}
	}
	if s != "" && isSafeWord(s) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b.WriteString(`'\''`)
			continue
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String(), nil
}

// isSafeWord reports whether s needs no quoting at all. A leading dash or
// tilde is quoted anyway so that it reads as data to a human too.
func isSafeWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '/' || c == '.' || c == ',' || c == ':' || c == '@' || c == '%' || c == '+' || c == '=':
			if i == 0 && c == '=' {
				return false
			}
		case c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Quoter quotes many values and keeps the first error, so that a script can
// be built in one pass and checked once.
type Quoter struct{ Err error }

// Q quotes s, remembering the first failure.
func (q *Quoter) Q(s string) string {
	out, err := Quote(s)
	if err != nil {
		if q.Err == nil {
			q.Err = err
		}
		return "''"
	}
	return out
}

// Join quotes each of args and joins them with spaces: the arguments of a
// command line.
func (q *Quoter) Join(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(q.Q(a))
	}
	return b.String()
}
