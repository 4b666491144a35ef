package remote

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// argsFunc defines a shell function that prints how many arguments it got,
// a newline, then each argument followed by a NUL byte: what the shell made
// of the words it was called with.
const argsFunc = "args() { printf '%s\\n' \"$#\"; for a in \"$@\"; do printf '%s\\000' \"$a\"; done; }\n"

// globDir returns a new directory holding files that the glob words of the
// tests would match if left unquoted: ?, [a], *, [!x] and a* all match
// something there.
func globDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"a", "b", "x", "ab"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// shellArgs runs, in sh and in dir, the argsFunc function called with the
// quoted words, and returns the argument count it printed and the
// arguments.
func shellArgs(t testing.TB, sh, dir string, words ...string) (int, []string) {
	t.Helper()
	var q Quoter
	line := q.Join(words)
	if q.Err != nil {
		t.Fatalf("Quote: %v", q.Err)
	}
	x := shellCommand(sh, argsFunc+"args "+line+"\n", "sh")
	x.Dir = dir
	out, err := x.Output()
	if err != nil {
		t.Fatalf("%s for %q (quoted %s): %v", sh, words, line, err)
	}
	n, rest, ok := strings.Cut(string(out), "\n")
	count, err := strconv.Atoi(n)
	if !ok || err != nil {
		t.Fatalf("%s for %q: printed %q, not a count", sh, words, out)
	}
	args := strings.Split(rest, "\x00")
	return count, args[:len(args)-1]
}

// shellEcho is shellArgs for one word in /bin/sh: the word the shell
// received, when it received exactly one.
func shellEcho(t testing.TB, dir, s string) (string, bool) {
	t.Helper()
	n, args := shellArgs(t, "/bin/sh", dir, s)
	if n != 1 || len(args) != 1 {
		return fmt.Sprintf("%d arguments %q", n, args), false
	}
	return args[0], true
}

// quoteCases are words a remote shell must receive unchanged: globs (which
// match files of globDir), expansions, separators, quotes, empty words and
// bytes that are not UTF-8.
func quoteCases() []string {
	return []string{
		"", "plain", "two words", "$(touch /tmp/fleetclaim-pwned)", "`id`", "a'b", `a"b`, "a\\b",
		"line1\nline2", "; rm -rf /", "&& echo x", "-rf", "--token=x", "~root", "~", "*", "?", "[a]", "[!x]", "a*", "??",
		"$HOME", "${PATH}", "!", "#comment", "tab\there", "\xff\xfe not utf-8", "'", "''", "=x", "a=b",
		"trailing\n", "\r\n", "{a,b}", "|", ">", "<", "(", ")", " ", "\t", "\n", "a b\tc\nd",
	}
}

// notUTF8 reports whether s holds bytes that are not UTF-8.
func notUTF8(s string) bool { return !utf8.ValidString(s) }

// TestQuoteEmptyWord: the empty string is a word of its own, never nothing.
func TestQuoteEmptyWord(t *testing.T) {
	if q, err := Quote(""); err != nil || q != "''" {
		t.Fatalf("Quote(\"\") = %q, %v, want ''", q, err)
	}
	var q Quoter
	if got := q.Join([]string{"a", "", "b"}); got != "a '' b" {
		t.Fatalf("Join = %q, want a '' b", got)
	}
}

// TestQuoteReachesShellUnchanged: each quoted word reaches a shell function
// as exactly one argument, byte for byte, in every POSIX shell of this
// machine, run in a directory where every glob word matches files; and all
// the words at once arrive as as many arguments, in order.
func TestQuoteReachesShellUnchanged(t *testing.T) {
	dir := globDir(t)
	cases := quoteCases()
	for _, sh := range testShells(t, "dash", "bash", "busybox", "mksh", "posh", "yash") {
		name := filepath.Base(sh)
		t.Run(name, func(t *testing.T) {
			var words, skipped []string
			for _, s := range cases {
				if name == "yash" && notUTF8(s) {
					// yash turns its input into wide characters and drops
					// text with bytes that are not UTF-8, even under LC_ALL=C.
					skipped = append(skipped, fmt.Sprintf("%q", s))
					continue
				}
				words = append(words, s)
				n, got := shellArgs(t, sh, dir, s)
				if n != 1 || len(got) != 1 || got[0] != s {
					t.Errorf("%s: Quote(%q) arrived as %d arguments %q, want 1: %q", name, s, n, got, s)
				}
			}
			if len(skipped) > 0 {
				t.Logf("%s: skipped %s", name, strings.Join(skipped, " "))
			}
			n, got := shellArgs(t, sh, dir, words...)
			if n != len(words) || !slices.Equal(got, words) {
				t.Errorf("%s: %d words arrived as %d arguments:\n got %q\nwant %q", name, len(words), n, got, words)
			}
		})
	}
}

func TestQuoteRejectsNUL(t *testing.T) {
	_, err := Quote("a\x00b")
	if err == nil || CategoryOf(err) != CatInvalidValue {
		t.Fatalf("Quote with NUL: err=%v, want invalid-value", err)
	}
	var q Quoter
	q.Q("fine")
	q.Q("bad\x00")
	if q.Err == nil {
		t.Fatal("Quoter kept no error for a NUL byte")
	}
}

func TestQuoteSafeWordsStayReadable(t *testing.T) {
	for _, s := range []string{"/opt/netdata/bin/netdatacli", "user@host", "a,b,c", "v1.2.3"} {
		if q, _ := Quote(s); q != s {
			t.Errorf("Quote(%q) = %q, want it unquoted", s, q)
		}
	}
	for _, s := range []string{"-x", "a b", "$x"} {
		if q, _ := Quote(s); !strings.HasPrefix(q, "'") {
			t.Errorf("Quote(%q) = %q, want it quoted", s, q)
		}
	}
}

// FuzzQuote: for any byte string without NUL, the remote shell receives
// exactly that string as one argument.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a b", "'", "$(x)", "\n", "-n", "\\", "\xff"} {
		f.Add(s)
	}
	dir := globDir(f)
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			if _, err := Quote(s); err == nil {
				t.Fatal("NUL accepted")
			}
			return
		}
		if got, ok := shellEcho(t, dir, s); !ok || got != s {
			t.Fatalf("shell received %q, want %q", got, s)
		}
	})
}

func TestLocalRunner(t *testing.T) {
	res, err := Local{}.Run(context.Background(), "cat; echo err >&2; exit 3", strings.NewReader("in"))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "in" || string(res.Stderr) != "err\n" || res.ExitCode != 3 {
		t.Fatalf("got %+v", res)
	}
}
