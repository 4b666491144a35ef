package remote

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// ReadFrom (the path io.Copy takes) keeps exactly what Write keeps: the
// first max bytes, and cut when anything was dropped.
func TestLimitedBufferReadFromMatchesWrite(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
	}{
		{"empty", "", 10},
		{"under", "hello", 10},
		{"exact", "0123456789", 10},
		{"over", "0123456789abc", 10},
		{"large", strings.Repeat("probe line\n", 5000), 20000},
		{"large cut", strings.Repeat("probe line\n", 5000), 1000},
		{"zero max", "x", 0},
	}
	for _, c := range cases {
		for _, reader := range []struct {
			name string
			r    func(string) io.Reader
		}{
			{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
			{"byte at a time", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
			{"half reads", func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) }},
		} {
			t.Run(c.name+"/"+reader.name, func(t *testing.T) {
				want := limitedBuffer{max: c.max}
				want.Write([]byte(c.in))
				got := limitedBuffer{max: c.max}
				n, err := io.Copy(&got, reader.r(c.in))
				if err != nil || n != int64(len(c.in)) {
					t.Fatalf("io.Copy = %d, %v; want %d, nil", n, err, len(c.in))
				}
				if !bytes.Equal(got.b, want.b) || got.cut != want.cut {
					t.Errorf("ReadFrom kept %d bytes (cut %v), Write kept %d (cut %v)", len(got.b), got.cut, len(want.b), want.cut)
				}
			})
		}
	}
	// A read error other than EOF is returned, with what came before kept.
	var l limitedBuffer
	l.max = 100
	boom := errors.New("boom")
	_, err := l.ReadFrom(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || string(l.b) != "abc" {
		t.Errorf("ReadFrom = %q, %v; want \"abc\", boom", l.b, err)
	}
}
