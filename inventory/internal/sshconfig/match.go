package sshconfig

import "strings"

// matchPattern is OpenSSH's match_pattern (match.c): '*' and '?'
// wildcards, case-sensitive.
func matchPattern(s, pat string) bool {
	for {
		if pat == "" {
			return s == ""
		}
		switch pat[0] {
		case '*':
			for len(pat) > 0 && pat[0] == '*' {
				pat = pat[1:]
			}
			if pat == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if matchPattern(s[i:], pat) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pat[0] {
				return false
			}
		}
		s, pat = s[1:], pat[1:]
	}
}

// matchPatternList is OpenSSH's match_pattern_list: a comma-separated
// list, "!" negating. 1 for a match, -1 for a negated match, 0 for none.
func matchPatternList(s, list string, lower bool) int {
	got := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if lower {
			p = strings.ToLower(p)
		}
		if matchPattern(s, p) {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

// matchHostname is match_hostname: the host lower-cased against a list.
func matchHostname(host, list string) bool {
	return matchPatternList(strings.ToLower(host), list, true) == 1
}
