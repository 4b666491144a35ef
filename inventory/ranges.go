package inventory

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// MaxRangeHosts is the most hosts one range pattern may expand to.
const MaxRangeHosts = 1 << 20

// rangePart is one [start:end(:step)] of a pattern.
type rangePart struct {
	prefix  string // literal text before the bracket
	letters bool
	start   int
	end     int
	step    int
	width   int // zero-padding width; 0 = none
}

func (r rangePart) count() int { return (r.end-r.start)/r.step + 1 }

func (r rangePart) item(i int) string {
	v := r.start + i*r.step
	if r.letters {
		return string(rune(v))
	}
	s := strconv.Itoa(v)
	if len(s) < r.width {
		s = strings.Repeat("0", r.width-len(s)) + s
	}
	return s
}

// HasRange reports whether name contains a range to expand (as opposed to a
// bracketed IPv6 literal).
func HasRange(name string) bool {
	return strings.ContainsAny(name, "[]") && !isBracketedIP(name)
}

// isBracketedIP reports "[v6]" or "[v6]:port".
func isBracketedIP(s string) bool {
	if !strings.HasPrefix(s, "[") {
		return false
	}
	end := strings.IndexByte(s, ']')
	if end < 0 || net.ParseIP(s[1:end]) == nil {
		return false
	}
	rest := s[end+1:]
	if rest == "" {
		return true
	}
	p, ok := strings.CutPrefix(rest, ":")
	if !ok {
		return false
	}
	_, err := strconv.ParseUint(p, 10, 16)
	return err == nil
}

// ExpandRange expands a host pattern such as "web[01:20].example.com",
// "10.0.1.[10:40]", "rack[a:c]-node[1:4]" or "h[0:10:2]" into the names it
// stands for, in order. Zero padding of the start ("01") is kept. A name
// without brackets, or a bracketed IPv6 literal, is returned as is. limit
// caps the number of names (MaxRangeHosts when <= 0).
func ExpandRange(pattern string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = MaxRangeHosts
	}
	if !HasRange(pattern) {
		return []string{pattern}, nil
	}
	parts, tail, err := parseRange(pattern)
	if err != nil {
		return nil, err
	}
	total := 1
	for _, p := range parts {
		total *= p.count()
		if total > limit {
			return nil, fmt.Errorf("range %q expands to more than %d hosts", truncate(pattern, 80), limit)
		}
	}
	out := make([]string, 0, total)
	idx := make([]int, len(parts))
	var b strings.Builder
	for {
		b.Reset()
		for i, p := range parts {
			b.WriteString(p.prefix)
			b.WriteString(p.item(idx[i]))
		}
		b.WriteString(tail)
		out = append(out, b.String())
		// Advance like an odometer, the last range fastest.
		i := len(parts) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < parts[i].count() {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return out, nil
		}
	}
}

func parseRange(pattern string) ([]rangePart, string, error) {
	var parts []rangePart
	rest := pattern
	for {
		open := strings.IndexByte(rest, '[')
		if open < 0 {
			if strings.IndexByte(rest, ']') >= 0 {
				return nil, "", fmt.Errorf("range %q: ']' without '['", truncate(pattern, 80))
			}
			return parts, rest, nil
		}
		closing := strings.IndexByte(rest[open:], ']')
		if closing < 0 {
			return nil, "", fmt.Errorf("range %q: '[' without ']'", truncate(pattern, 80))
		}
		closing += open
		prefix := rest[:open]
		if strings.IndexByte(prefix, ']') >= 0 {
			return nil, "", fmt.Errorf("range %q: ']' without '['", truncate(pattern, 80))
		}
		body := rest[open+1 : closing]
		if strings.IndexByte(body, '[') >= 0 {
			return nil, "", fmt.Errorf("range %q: nested '['", truncate(pattern, 80))
		}
		p, err := parseRangeBody(body)
		if err != nil {
			return nil, "", fmt.Errorf("range %q: %w", truncate(pattern, 80), err)
		}
		p.prefix = prefix
		parts = append(parts, p)
		rest = rest[closing+1:]
	}
}

func parseRangeBody(body string) (rangePart, error) {
	fields := strings.Split(body, ":")
	if len(fields) < 2 || len(fields) > 3 {
		return rangePart{}, fmt.Errorf("[%s]: want [start:end] or [start:end:step]", truncate(body, 40))
	}
	p := rangePart{step: 1}
	if len(fields) == 3 {
		s, err := strconv.Atoi(fields[2])
		if err != nil || s < 1 {
			return rangePart{}, fmt.Errorf("[%s]: step must be a positive number", truncate(body, 40))
		}
		p.step = s
	}
	a, b := fields[0], fields[1]
	switch {
	case isLetter(a) && isLetter(b):
		p.letters = true
		p.start, p.end = int(a[0]), int(b[0])
		if (a[0] >= 'a') != (b[0] >= 'a') {
			return rangePart{}, fmt.Errorf("[%s]: mixes upper and lower case", body)
		}
	default:
		x, err1 := strconv.ParseUint(a, 10, 31)
		y, err2 := strconv.ParseUint(b, 10, 31)
		if err1 != nil || err2 != nil {
			return rangePart{}, fmt.Errorf("[%s]: start and end must both be numbers or both single letters", truncate(body, 40))
		}
		p.start, p.end = int(x), int(y)
		if len(a) > 1 && a[0] == '0' {
			p.width = len(a)
		}
	}
	if p.start > p.end {
		return rangePart{}, fmt.Errorf("[%s]: start is after end", truncate(body, 40))
	}
	return p, nil
}

func isLetter(s string) bool {
	return len(s) == 1 && ('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z')
}
