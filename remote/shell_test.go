package remote

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetclaim/fleetclaim/internal/sshdtest"
)

// TestFrameSink: a stream is cut at the marker lines however it arrives,
// output without a final newline keeps its bytes, a marker of another shell
// is plain output, and an endless output is cut at MaxOutput while the
// marker behind it is still found.
func TestFrameSink(t *testing.T) {
	const marker = "fleetclaim-0123456789abcdef0123456789abcdef"
	stream := "banner\n\n" + marker + " 0\n" + // start-up frame, skipped
		"line one\nno newline" + "\n" + marker + " 3\n" +
		"fleetclaim-ffffffffffffffffffffffffffffffff 9\n" + "\n" + marker + " 0\n" +
		"\n" + marker + " 255\n"
	want := []frame{{data: []byte("line one\nno newline"), code: 3},
		{data: []byte("fleetclaim-ffffffffffffffffffffffffffffffff 9\n"), code: 0},
		{data: []byte{}, code: 255}}
	for _, chunk := range []int{1, 2, 3, 7, 45, 46, len(stream)} {
		t.Run(fmt.Sprint("chunks of ", chunk), func(t *testing.T) {
			f := newFrameSink(marker, true)
			f.skip = 1
			var got []frame
			for i := 0; i < len(stream); i += chunk {
				f.Write([]byte(stream[i:min(i+chunk, len(stream))]))
				for len(f.frames) > 0 {
					got = append(got, <-f.frames)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d frames %+v, want %d", len(got), got, len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i].data, want[i].data) || got[i].code != want[i].code || got[i].cut {
					t.Errorf("frame %d: %q exit %d cut %v, want %q exit %d", i, got[i].data, got[i].code, got[i].cut, want[i].data, want[i].code)
				}
			}
		})
	}
	t.Run("cut", func(t *testing.T) {
		f := newFrameSink(marker, false)
		block := bytes.Repeat([]byte("x"), 64<<10)
		for range 3 * MaxOutput / len(block) {
			f.Write(block)
		}
		f.Write([]byte("tail\n" + marker[:10]))
		f.Write([]byte(marker[10:] + "\nnext"))
		if len(f.frames) != 1 {
			t.Fatalf("%d frames", len(f.frames))
		}
		fr := <-f.frames
		if !fr.cut || len(fr.data) > MaxOutput+len(marker)+40 || !bytes.HasPrefix(fr.data, block[:100]) {
			t.Fatalf("cut %v, %d bytes", fr.cut, len(fr.data))
		}
		if string(f.buf) != "next" {
			t.Fatalf("left %q", f.buf)
		}
	})
}

// TestSharedShellSSHD runs scripts through real OpenSSH: one connection's
// scripts share one shell (the same $$), each in a subshell of its own with
// its arguments, exit code, stdout and stderr apart and an empty stdin;
// a script that runs while the shell is busy gets its own session; on a
// server that allows one session, an idle shell gives its slot to a command
// that needs one.
func TestSharedShellSSHD(t *testing.T) {
	sshdtest.Require(t)
	e := sshdtest.New(t)
	one := e.Start(t, sshdtest.Options{Name: "one", MaxSessions: 1})
	many := e.Start(t, sshdtest.Options{Name: "many"})
	var lines []string
	for _, s := range []*sshdtest.Server{one, many} {
		for typ := range s.HostKeyFiles {
			lines = append(lines, s.KnownHostsLine(t, typ))
		}
	}
	known := e.WriteKnownHosts(t, false, lines...)
	target := func(s *sshdtest.Server) Target {
		return Target{Name: s.Name, Hop: Hop{User: "root", Address: s.Host, Port: s.Port},
			IdentityFiles: []string{e.Key}, KnownHosts: []string{known}, ConnectTimeout: 5 * time.Second}
	}
	ctx := context.Background()
	d := NewDialer(DialerOptions{})
	defer d.Close()

	c, err := d.Dial(ctx, target(many))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hostile := []string{"$(touch /tmp/fleetclaim-pwned)", "a b\tc", "'\"`;&&|", "-n", ""}
	script := "echo pid=$$\nfor a in \"$@\"; do printf 'arg=%s\\n' \"$a\"; done\necho oops >&2\nif read -r l; then echo stdin=$l; fi\nexit 7"
	var pids []string
	for range 3 {
		res, err := RunScript(ctx, c, script, hostile...)
		if err != nil {
			t.Fatal(err)
		}
		out := string(res.Stdout)
		pid, _, _ := strings.Cut(strings.TrimPrefix(out, "pid="), "\n")
		pids = append(pids, pid)
		var args []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			args = append(args, strings.TrimPrefix(l, "arg="))
		}
		if strings.Join(args, "|") != strings.Join(hostile, "|") || res.ExitCode != 7 || string(res.Stderr) != "oops\n" || strings.Contains(out, "stdin=") {
			t.Fatalf("stdout %q stderr %q exit %d", out, res.Stderr, res.ExitCode)
		}
	}
	if pids[0] == "" || pids[0] != pids[1] || pids[1] != pids[2] {
		t.Errorf("scripts ran in shells %v, want one shared shell", pids)
	}
	// Two scripts at once: the second does not wait for the first.
	var wg sync.WaitGroup
	got := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			res, err := RunScript(ctx, c, "sleep 0.3; echo $$")
			if err != nil {
				t.Error(err)
			}
			got[i] = strings.TrimSpace(string(res.Stdout))
		})
	}
	wg.Wait()
	if got[0] == got[1] {
		t.Errorf("concurrent scripts both ran in shell %s", got[0])
	}
	// A shell that dies mid-script is an error, and the next script gets
	// a new shell.
	if _, err := RunScript(ctx, c, "kill -9 $$"); err == nil || !strings.Contains(err.Error(), "shell ended") || CategoryOf(err) != CatCommand {
		t.Errorf("killed shell: %v (%s), want %s", err, CategoryOf(err), CatCommand)
	}
	if res, err := RunScript(ctx, c, "echo $$"); err != nil || strings.TrimSpace(string(res.Stdout)) == pids[0] {
		t.Errorf("after the kill: %q %v", res.Stdout, err)
	}

	c1, err := d.Dial(ctx, target(one))
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if res, err := RunScript(ctx, c1, "echo first"); err != nil || string(res.Stdout) != "first\n" {
		t.Fatalf("first: %q %v", res.Stdout, err)
	}
	// The shell holds the only session; a command gets it.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if res, err := c1.Run(cctx, "echo second", nil); err != nil || string(res.Stdout) != "second\n" {
		t.Fatalf("second: %q %v", res.Stdout, err)
	}
	if res, err := RunScript(cctx, c1, "echo third"); err != nil || string(res.Stdout) != "third\n" {
		t.Fatalf("third: %q %v", res.Stdout, err)
	}
}

// FuzzFrameSink: whatever a host prints, and however it arrives, the frames
// are those of the whole stream at once, each at most MaxOutput (plus what a
// cut keeps of the end), and nothing panics.
func FuzzFrameSink(f *testing.F) {
	const marker = "fleetclaim-00112233445566778899aabbccddeeff"
	f.Add([]byte("out\n\n"+marker+" 0\nmore\n"+marker+" 1\n"), uint8(3))
	f.Add([]byte("\n"+marker+" x\n\n"+marker), uint8(1))
	f.Add([]byte(marker+marker+"\n\n\n"), uint8(7))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		frames := func(step int) []frame {
			s := newFrameSink(marker, true)
			s.frames = make(chan frame, len(stream)+1)
			for i := 0; i < len(stream); i += step {
				s.Write(stream[i:min(i+step, len(stream))])
			}
			s.end()
			var out []frame
			for fr := range s.frames {
				if len(fr.data) > MaxOutput+len(marker)+40 {
					t.Fatalf("frame of %d bytes", len(fr.data))
				}
				out = append(out, fr)
			}
			return out
		}
		whole, parts := frames(max(len(stream), 1)), frames(int(chunk)%16+1)
		if len(whole) != len(parts) {
			t.Fatalf("%d frames at once, %d in chunks of %d", len(whole), len(parts), int(chunk)%16+1)
		}
		for i := range whole {
			if !bytes.Equal(whole[i].data, parts[i].data) || whole[i].code != parts[i].code {
				t.Fatalf("frame %d: %q/%d at once, %q/%d in chunks", i, whole[i].data, whole[i].code, parts[i].data, parts[i].code)
			}
		}
	})
}
