package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/remote"
)

// hostileText is what a hostile or broken host (or Cloud endpoint, whose
// errorMsgKey the agent repeats) can put in a message: an OSC that
// retitles the terminal, a cursor-up, an erase-line and a carriage return
// that overwrite the line before with a forged "claimed" one, a conceal
// that hides what follows, an 8-bit CSI, a right-to-left override, an
// invalid UTF-8 byte, a bell, and markdown that would open a table cell, a
// link, a heading and an HTML tag.
const hostileText = "Failed with description '\x1b]0;owned\x07\x1b[1A\x1b[2K\rlab-001 claimed claim-conf: claimed and online\x1b[8m" +
	"\u009b2J \u202eevil\xff | cell | [link](http://x) `code` *em* _u_\n# heading <script>'"

// rawControl returns the first byte sequence of s a terminal acts on (a
// control character other than the line feeds that end lines, a C1
// control, a bidirectional override) or that is not UTF-8, and whether there is one.
func rawControl(s string) (string, bool) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Sprintf("%q at %d", s[i:i+1], i), true
		case r != '\n' && (r < 0x20 || r == 0x7f) || unsafeRune(r):
			return fmt.Sprintf("%q at %d", string(r), i), true
		}
		i += n
	}
	return "", false
}

func hostileRecord() claim.Result {
	now := time.Now()
	return claim.Result{Host: "lab-002", Groups: []string{"web"}, Status: claim.StatusFailed, Method: "claim-conf",
		Category: claim.CatClaimFailed, Message: hostileText, Plan: []string{"step " + hostileText},
		ClaimedID: "\x1b[31mid", Start: now, End: now, Attempts: 1}
}

func checkNoRaw(t *testing.T, what, out string) {
	t.Helper()
	if at, bad := rawControl(out); bad {
		t.Errorf("%s holds a raw control %s:\n%q", what, at, out)
	}
	if strings.Contains(out, "\nlab-001 claimed") {
		t.Errorf("%s starts a forged line:\n%q", what, out)
	}
}

// TestRenderingsEscapeHostText: every plain-text and markdown rendering of
// a record shows a hostile message's control characters as escapes, on the
// record's own line; JSON and JUnit carry none raw.
func TestRenderingsEscapeHostText(t *testing.T) {
	r := hostileRecord()
	recs := resultList{r}
	var buf bytes.Buffer

	p := newProgress(&buf, 2, false)
	p.done(r)
	planned := r
	planned.Status = claim.StatusPlanned
	p.done(planned)
	checkNoRaw(t, "progress lines", buf.String())
	if n := strings.Count(buf.String(), "\n"); n != 3 { // the two records' lines and the plan's one step
		t.Errorf("progress: %d lines, want 3:\n%s", n, buf.String())
	}

	buf.Reset()
	p = newProgress(&buf, 1, false)
	p.bar = progressbar.NewOptions(1, progressbar.OptionSetWriter(io.Discard))
	p.done(r)
	checkNoRaw(t, "progress FAILED line", buf.String())

	buf.Reset()
	if err := renderTable(&buf, recs); err != nil {
		t.Fatal(err)
	}
	checkNoRaw(t, "table", buf.String())
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("table: %d lines, want a header and one row:\n%s", n, buf.String())
	}

	buf.Reset()
	tally := newTally(summaryHosts, summaryItem)
	bad := r
	bad.Host, bad.Category = "lab-\x1b[2Jx", "cat\rforged"
	tally.add(0, &bad)
	printTally(&buf, tally)
	checkNoRaw(t, "summary", buf.String())

	buf.Reset()
	if err := writeMarkdown(&buf, "claim", resultList{r, bad}, time.Second); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	checkNoRaw(t, "markdown", md)
	for _, raw := range []string{"<script>", " [link]", " | cell |", "\n# heading", " `code`", " *em*", " _u_"} {
		if strings.Contains(md, raw) {
			t.Errorf("markdown holds %q unescaped:\n%s", raw, md)
		}
	}
	if !strings.Contains(md, `\[link\](http://x)`) {
		t.Errorf("markdown lost the link's text:\n%s", md)
	}

	buf.Reset()
	d := newDebugLog(&buf, nil)
	d.logf("lab-002", "  failed after 1s: [%s] %v", "claim-failed", &remote.Error{Op: "run", Host: "lab-002", Category: "command-failed", Err: fmt.Errorf("sudo: %s", hostileText)})
	checkNoRaw(t, "--debug", buf.String())
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Errorf("--debug: %d lines, want 1:\n%s", n, buf.String())
	}

	buf.Reset()
	printFactsTable(&buf, []claim.Inspection{{Host: "lab-002", Category: remote.CatProbe, Error: hostileText}})
	checkNoRaw(t, "facts table", buf.String())

	buf.Reset()
	if err := writeFactsJSON(&buf, []claim.Inspection{{Host: "lab-002", Category: remote.CatProbe, Error: hostileText}}); err != nil {
		t.Fatal(err)
	}
	checkNoRaw(t, "facts json", buf.String())

	buf.Reset()
	if err := writeJSON(&buf, recs); err != nil {
		t.Fatal(err)
	}
	checkNoRaw(t, "json", buf.String())
	var back []claim.Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back) != 1 || back[0].Message != strings.ToValidUTF8(hostileText, "\uFFFD") {
		t.Errorf("json does not carry the message as it was: %v %+v", err, back)
	}

	buf.Reset()
	if err := writeJUnit(&buf, "claim", recs, time.Second); err != nil {
		t.Fatal(err)
	}
	checkNoRaw(t, "junit", strings.ReplaceAll(buf.String(), "\t", ""))
	if err := xml.Unmarshal(buf.Bytes(), new(junitSuites)); err != nil {
		t.Errorf("junit is not XML: %v", err)
	}
}

// TestHistoryEscapesHostText: `fleetclaim history HOST` shows a record's
// fields read back from the history with their control characters escaped.
func TestHistoryEscapesHostText(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "history")
	h, err := startHistory(dir, defaultHistoryKeep, "claim", "inventory.yml", 1)
	if err != nil {
		t.Fatal(err)
	}
	r := hostileRecord()
	r.Category = "claim-failed\x1b]0;t\x07"
	line, err := encodeLine(r)
	if err != nil {
		t.Fatal(err)
	}
	h.add(r.Status, line)
	h.finish(1)
	var out, errb bytes.Buffer
	if code := runHistory([]string{"--history", dir, "lab-002"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "lab-002") {
		t.Fatalf("the host is not in the history output:\n%s", out.String())
	}
	checkNoRaw(t, "history", out.String())
}

// TestTermText: what passes unchanged and what is escaped.
func TestTermText(t *testing.T) {
	for in, want := range map[string]string{
		"claimed and online":        "claimed and online",
		"nœud réclamé, 節点":          "nœud réclamé, 節点",
		"a\x1b[2Kb":                 `a\x1b[2Kb`,
		"a\rb\nc\td\x07\x7f":        `a\rb\nc\td\x07\x7f`,
		"\u009b1A \u202eabc\u2066 ": `\u009b1A \u202eabc\u2066 `,
		"bad\xffutf8":               `bad\xffutf8`,
	} {
		if got := termText(in); got != want {
			t.Errorf("termText(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"a|b":         `a\|b`,
		"[x](y)":      `\[x\](y)`,
		"<b>&":        "&lt;b&gt;&amp;",
		"line\n# two": `line \# two`,
		"`c` *e* _u_": "\\`c\\` \\*e\\* \\_u\\_",
	} {
		if got := mdText(in); got != want {
			t.Errorf("mdText(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"lab-1":  "`lab-1`",
		"a`b":    "``a`b``",
		"`edge":  "`` `edge ``",
		"x\x1by": "`x\\x1by`",
	} {
		if got := mdCode(in); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestXMLSafeWriterSplits: a rune split between writes is escaped as when
// written whole.
func TestXMLSafeWriterSplits(t *testing.T) {
	doc := []byte("<a b=\"x\u009by\">\u202eé\u009b</a>")
	var whole, split bytes.Buffer
	w := &xmlSafeWriter{w: &whole}
	w.Write(doc)
	w.flush()
	w = &xmlSafeWriter{w: &split}
	for i := range doc {
		w.Write(doc[i : i+1])
	}
	w.flush()
	want := "<a b=\"x&#x9B;y\">&#x202E;é&#x9B;</a>"
	if whole.String() != want || split.String() != want {
		t.Errorf("whole %q, byte by byte %q, want %q", whole.String(), split.String(), want)
	}
}
