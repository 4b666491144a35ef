package lab

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// CapturedOutput is what a real agent or tool printed: its exit code and
// its output lines (stdout's, then stderr's).
type CapturedOutput struct {
	Exit  int
	Lines []string
}

// CaptureCheck is the outcome of CheckCaptureRows.
type CaptureCheck struct {
	// Checked counts the (row, capture) pairs compared.
	Checked int
	// Problems are the rows a capture does not hold.
	Problems []string
	// Absent are the captures rows cite that output did not have.
	Absent []string
}

// CheckCaptureRows checks every row of the lab's message table that cites
// a capture (a path from the repository root, e.g.
// "claim/testdata/real/v2.11.0/reload-403.txt") against output(path): each
// line of the row's text must be a line (a row a tool prints on a stream)
// or part of a line of the output, a format's verbs standing for any text,
// and a row's exit code the output's (but for libcurl rows, whose code is
// curl's). Run on the stored captures (messages_test.go) and on what the
// real agents print now (internal/agenttest), it keeps the table
// the real agents'.
func CheckCaptureRows(output func(path string) (CapturedOutput, bool)) CaptureCheck {
	var c CaptureCheck
	ids := make([]string, 0)
	table := msgTable()
	for id := range table {
		ids = append(ids, string(id))
	}
	sort.Strings(ids)
	absent := map[string]bool{}
	for _, id := range ids {
		r := table[msgID(id)]
		curl := strings.Contains(r.source, "libcurl ")
		for _, p := range strings.Split(r.source, "; ") {
			if !isCaptureSource(p) {
				continue
			}
			out, ok := output(p)
			if !ok {
				if !absent[p] {
					absent[p] = true
					c.Absent = append(c.Absent, p)
				}
				continue
			}
			c.Checked++
			for _, m := range rowMatchesOutput(r, out, curl) {
				c.Problems = append(c.Problems, fmt.Sprintf("row %s: %s: %s", id, p, m))
			}
		}
	}
	return c
}

// isCaptureSource reports whether a row's source part names a capture file.
func isCaptureSource(p string) bool {
	return (strings.HasPrefix(p, "claim/testdata/real/") || strings.HasPrefix(p, "lab/testdata/")) && strings.HasSuffix(p, ".txt")
}

// fmtVerb matches the fmt verbs of a row's text.
func fmtVerb() *regexp.Regexp { return regexp.MustCompile(`%[-+# 0-9.]*[sdtvqu]`) }

// lineRegexp turns one line of a row's text (a fmt format) into a regexp in
// which each verb stands for any text; whole anchors it to a whole line.
func lineRegexp(line string, whole bool) *regexp.Regexp {
	parts := fmtVerb().Split(line, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(strings.ReplaceAll(p, "%%", "%"))
	}
	expr := strings.Join(parts, ".*")
	if whole {
		expr = "^" + expr + "$"
	}
	return regexp.MustCompile(expr)
}

// textLines are the non-empty lines of a row's text.
func textLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// rowMatchesOutput lists what of row r an output does not hold.
func rowMatchesOutput(r msgRow, out CapturedOutput, curl bool) []string {
	var miss []string
	for _, l := range textLines(r.text) {
		re := lineRegexp(l, r.stream != "")
		found := false
		for _, ol := range out.Lines {
			if re.MatchString(ol) {
				found = true
				break
			}
		}
		if !found {
			miss = append(miss, fmt.Sprintf("no line matching %q", re))
		}
	}
	if r.exit != 0 && !curl && r.exit != out.Exit {
		miss = append(miss, fmt.Sprintf("exit %d, the output's is %d", r.exit, out.Exit))
	}
	return miss
}
