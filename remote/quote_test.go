package remote

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// shellEcho asks the real /bin/sh to print its first argument, built from
// Quote(s), and returns what it printed.
func shellEcho(t testing.TB, s string) []byte {
	t.Helper()
	q, err := Quote(s)
	if err != nil {
		t.Fatalf("Quote(%q): %v", s, err)
	}
	out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+q+"; printf '|%s' \"$#\"", "sh").Output()
	if err != nil {
		t.Fatalf("sh for %q (quoted %s): %v", s, q, err)
	}
	return out
}

func TestQuoteReachesShellUnchanged(t *testing.T) {
	cases := []string{
		"", "plain", "two words", "$(touch /tmp/fleetclaim-pwned)", "`id`", "a'b", `a"b`, "a\\b",
		"line1\nline2", "; rm -rf /", "&& echo x", "-rf", "--token=x", "~root", "*", "?", "[a]",
		"$HOME", "${PATH}", "!", "#comment", "tab\there", "\xff\xfe not utf-8", "'", "''", "=x", "a=b",
		"trailing\n", "\r\n", "{a,b}", "|", ">", "<", "(", ")",
	}
	for _, s := range cases {
		got := shellEcho(t, s)
		want := s + "|0"
		if !bytes.Equal(got, []byte(want)) {
			t.Errorf("Quote(%q): shell printed %q, want %q", s, got, want)
		}
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
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			if _, err := Quote(s); err == nil {
				t.Fatal("NUL accepted")
			}
			return
		}
		got := shellEcho(t, s)
		if want := s + "|0"; !bytes.Equal(got, []byte(want)) {
			t.Fatalf("shell printed %q, want %q", got, want)
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
