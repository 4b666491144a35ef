package sshconfig

import (
	"errors"
	"strings"
)

// ErrTime is a time value OpenSSH's convtime would refuse.
var ErrTime = errors.New("ssh_config time")

// ParseTime reads a time as OpenSSH's convtime (misc.c) does: seconds, or
// numbers each followed by s, m, h, d or w ("1h30m"), case-insensitive.
func ParseTime(s string) (int64, error) {
	if s == "" {
		return 0, ErrTime
	}
	var total, n int64
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			n = n*10 + int64(c-'0')
			digits = true
			if n > 1<<31 {
				return 0, ErrTime
			}
			continue
		}
		if !digits {
			return 0, ErrTime
		}
		var mult int64
		switch strings.ToLower(string(c)) {
		case "s":
			mult = 1
		case "m":
			mult = 60
		case "h":
			mult = 3600
		case "d":
			mult = 86400
		case "w":
			mult = 604800
		default:
			return 0, ErrTime
		}
		total += n * mult
		n, digits = 0, false
	}
	total += n
	if total > 1<<31-1 {
		return 0, ErrTime
	}
	return total, nil
}
