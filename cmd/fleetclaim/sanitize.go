package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Untrusted text (what hosts print, the agent's and Cloud's reasons, sudo's
// and the kickstart's messages, container names, records read back from a
// file) reaches people through a terminal, plain-text logs and markdown.
// Each rendering goes through the one function for its meaning below.
// JSON and JUnit need none: their encoders escape control characters
// (encoding/xml replaces those XML cannot hold with U+FFFD).

// termText is untrusted text made safe for a terminal or a plain-text log:
// every control character (C0, DEL, C1: escape sequences, carriage
// returns, bells, line breaks), every bidirectional-formatting rune (which
// reorders what follows it on screen) and every invalid UTF-8 byte is shown
// as an escape (\n, \r, \t, \x1b, \u202e), so the text can neither move the
// cursor, retitle the window, hide or overwrite what follows, nor forge a
// line. Printable text in any script passes unchanged.
func termText(s string) string {
	if !needsTermEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsTermEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			// Any non-ASCII byte takes the slow path, which keeps what
			// is printable.
			return true
		}
	}
	return false
}

// unsafeRune reports a non-ASCII rune a terminal acts on instead of
// showing: C1 controls (U+0080..U+009F: U+009B is CSI on terminals that
// honour 8-bit controls) and the bidirectional formatting characters.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// termLine is untrusted text on one line of a terminal or log: its runs of
// white space (line breaks included) become one space, it is cut after n
// bytes on a rune boundary (n == 0: not cut), and then made safe with
// termText. (A multi-line message, such as the agent's curl failure, reads
// as one line.)
func termLine(s string, n int) string {
	if n <= 0 {
		return termText(strings.Join(strings.Fields(s), " "))
	}
	return termText(oneLine(s, n))
}

// mdText is untrusted text inside a markdown paragraph, list item or table
// cell: on one line, made safe for a terminal (the summary is also read as
// plain text), with every character markdown or its HTML would act on
// escaped, so that the text renders as itself (no table cell split by |, no
// link, emphasis, heading, code span or HTML tag).
func mdText(s string) string {
	s = termText(strings.Join(strings.Fields(s), " "))
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '#', '|', '~', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode is untrusted text as a markdown code span: on one line, made safe
// for a terminal, fenced by more backticks than the longest run in it.
func mdCode(s string) string {
	s = termText(strings.Join(strings.Fields(s), " "))
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// escapeUnsafeRunes rewrites, in an encoded JSON or XML document, the
// runes a terminal acts on that the encoders leave raw (C1 controls and
// bidirectional formatting; both encoders already escape C0), with format
// (`\u%04x` for JSON, `&#x%X;` for XML). Those runes can only occur inside
// strings and values, where both forms mean the very same rune: the
// document decodes to what it did, and a `cat` of it is harmless.
func escapeUnsafeRunes(b []byte, format string) []byte {
	i := 0
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if unsafeRune(r) {
			break
		}
		i += n
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if unsafeRune(r) {
			out = fmt.Appendf(out, format, r)
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// jsonSafe is escapeUnsafeRunes for JSON.
func jsonSafe(b []byte) []byte { return escapeUnsafeRunes(b, `\u%04x`) }

// xmlSafeWriter passes an XML document on with escapeUnsafeRunes applied,
// holding back a rune split between two writes.
type xmlSafeWriter struct {
	w       io.Writer
	pending []byte
}

func (x *xmlSafeWriter) Write(p []byte) (int, error) {
	b := append(x.pending, p...)
	cut := len(b)
	// A rune whose start is among the last three bytes may be incomplete.
	for k := 1; k <= 3 && k <= len(b); k++ {
		if c := b[len(b)-k]; utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-k:]) {
				cut = len(b) - k
			}
			break
		}
	}
	x.pending = append([]byte(nil), b[cut:]...)
	if _, err := x.w.Write(escapeUnsafeRunes(b[:cut], "&#x%X;")); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes what was held back.
func (x *xmlSafeWriter) flush() error {
	_, err := x.w.Write(x.pending)
	x.pending = nil
	return err
}
