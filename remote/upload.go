package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// Upload puts content at dst on c's host with the given mode and owner
// ("user", "user:group", or "" to leave it to whoever r runs as). The file is
// written under a temporary name (next to dst when the login user may write
// there, else in a private temporary directory) with sftp, or streamed over
// an exec session when the server has no sftp subsystem; its sha256 is
// checked on the host; then r (a privileged runner, or c itself) gives it its
// owner and mode and renames it into place, so dst is either complete or
// untouched, and never readable by others before its mode is set.
func Upload(ctx context.Context, c *Client, r Runner, dst string, content []byte, mode os.FileMode, owner string) error {
	if r == nil {
		r = c
	}
	if mode == 0 {
		mode = 0o600
	}
	fail := func(format string, a ...any) error {
		return &Error{Op: "upload", Host: c.name, Category: CatUpload, Err: fmt.Errorf(format, a...)}
	}
	if dst == "" || !strings.HasPrefix(dst, "/") || strings.HasSuffix(dst, "/") {
		return &Error{Op: "upload", Host: c.name, Category: CatInvalidValue, Err: fmt.Errorf("upload destination %q is not an absolute file path", dst)}
	}
	q := &Quoter{}
	dir, base := path.Dir(dst), path.Base(dst)
	qdst, qdir, qbase := q.Q(dst), q.Q(dir), q.Q(base)
	prep := "umask 077\n" +
		"if [ -w " + qdir + " ] && t=$(mktemp " + qdir + "/." + qbase + ".fleetclaim.XXXXXX 2>/dev/null); then printf 'file %s\\n' \"$t\"\n" +
		"else t=$(mktemp -d \"${TMPDIR:-/tmp}/fleetclaim.XXXXXX\") && : > \"$t\"/" + qbase + " && printf 'dir %s\\n' \"$t\" || exit 1; fi\n" +
		"for x in sha256sum shasum openssl sha256; do p=$(command -v $x 2>/dev/null) && printf 'hash %s %s\\n' $x \"$p\"; done\n" +
		"exit 0"
	if q.Err != nil {
		return q.Err
	}
	res, err := c.Run(ctx, prep, nil)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fail("cannot create a temporary file on the host: %s", clipLine(string(res.Stderr), 300))
	}
	var staged, stageDir, hashCmd string
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		f := strings.SplitN(l, " ", 3)
		switch {
		case len(f) >= 2 && f[0] == "file":
			staged = strings.TrimPrefix(l, "file ")
		case len(f) >= 2 && f[0] == "dir":
			stageDir = strings.TrimPrefix(l, "dir ")
			staged = stageDir + "/" + base
		case len(f) == 3 && f[0] == "hash" && hashCmd == "":
			hashCmd = hashCommand(f[1], f[2])
		}
	}
	if staged == "" {
		return fail("cannot create a temporary file on the host: unexpected answer %q", clipLine(string(res.Stdout), 200))
	}
	done := false
	defer func() {
		if done {
			return
		}
		// Leave nothing half-written behind, even when ctx is gone.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		rm := "rm -f " + q.Q(staged)
		if stageDir != "" {
			rm = "rm -rf " + q.Q(stageDir)
		}
		c.Run(cctx, rm, nil)
	}()

	if err := c.put(ctx, staged, content); err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	if hashCmd == "" {
		// No sha256 tool on the host: read the file back.
		res, err := c.Run(ctx, "cat "+q.Q(staged), nil)
		if err != nil {
			return err
		}
		if !bytes.Equal(res.Stdout, content) {
			return fail("the uploaded file differs from what was sent (%d bytes read back, %d sent)", len(res.Stdout), len(content))
		}
	}

	var b strings.Builder
	src := q.Q(staged)
	if stageDir != "" {
		b.WriteString("umask 077\nt=$(mktemp " + qdir + "/." + qbase + ".fleetclaim.XXXXXX) || exit 4\n")
		b.WriteString("cat " + src + " > \"$t\" || { rm -f \"$t\"; exit 4; }\n")
	} else {
		b.WriteString("t=" + src + "\n")
	}
	if hashCmd != "" {
		b.WriteString("h=$(" + hashCmd + " < \"$t\") || { rm -f \"$t\"; exit 5; }\n")
		b.WriteString("case $h in *" + want + "*) ;; *) rm -f \"$t\"; echo \"sha256 on the host: $h\" >&2; exit 3;; esac\n")
	}
	if owner != "" {
		b.WriteString("chown " + q.Q(owner) + " \"$t\" || { rm -f \"$t\"; exit 6; }\n")
	}
	fmt.Fprintf(&b, "chmod %04o \"$t\" || { rm -f \"$t\"; exit 6; }\n", uint32(mode.Perm()))
	b.WriteString("mv -f \"$t\" " + qdst + " || { rm -f \"$t\"; exit 7; }\n")
	if stageDir != "" {
		b.WriteString("rm -rf " + q.Q(stageDir) + " 2>/dev/null\n")
	}
	b.WriteString("exit 0")
	if q.Err != nil {
		return q.Err
	}
	res, err = r.Run(ctx, b.String(), nil)
	if err != nil {
		return err
	}
	msg := clipLine(string(res.Stderr), 300)
	switch res.ExitCode {
	case 0:
		done = true
		return nil
	case 3:
		return fail("sha256 mismatch after upload, want %s (%s)", want, msg)
	case 4:
		return fail("cannot write a temporary file next to %s: %s", dst, msg)
	case 5:
		return fail("cannot compute sha256 on the host: %s", msg)
	case 6:
		return fail("cannot set owner %q and mode %04o: %s", owner, uint32(mode.Perm()), msg)
	case 7:
		return fail("cannot move the file into place at %s: %s", dst, msg)
	}
	return fail("moving the file into place failed (exit %d): %s", res.ExitCode, msg)
}

func hashCommand(tool, path string) string {
	q := &Quoter{}
	p := q.Q(path)
	if q.Err != nil {
		return ""
	}
	switch tool {
	case "sha256sum":
		return p
	case "shasum":
		return p + " -a 256"
	case "openssl":
		return p + " dgst -sha256"
	case "sha256":
		return p + " -q"
	}
	return ""
}

// put writes content to file on the host: over sftp, or, when the server
// has no sftp subsystem, streamed into cat on an exec session.
func (c *Client) put(ctx context.Context, file string, content []byte) error {
	err := c.putSFTP(ctx, file, content)
	if !errors.Is(err, errNoSFTP) {
		return err
	}
	q := &Quoter{}
	cmd := "umask 077; cat > " + q.Q(file)
	if q.Err != nil {
		return q.Err
	}
	res, err := c.Run(ctx, cmd, bytes.NewReader(content))
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return &Error{Op: "upload", Host: c.name, Category: CatUpload, Err: fmt.Errorf("writing %s: %s", file, clipLine(string(res.Stderr), 300))}
	}
	return nil
}

var errNoSFTP = errors.New("no sftp subsystem")

func (c *Client) putSFTP(ctx context.Context, file string, content []byte) error {
	s, release, err := c.newSession(ctx)
	if err != nil {
		return err
	}
	defer release()
	defer s.Close()
	stdin, err := s.StdinPipe()
	if err != nil {
		return c.sessionErr(err)
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		return c.sessionErr(err)
	}
	if err := c.await(ctx, "the sftp subsystem request", func() error { return s.RequestSubsystem("sftp") }); err != nil {
		if CategoryOf(err) != "" {
			return err
		}
		return errNoSFTP
	}
	// Closing the session does not end a read that the host never
	// answers: a transfer still going stallGrace after ctx ended closes
	// the connection (see await).
	finished := make(chan struct{})
	defer close(finished)
	stop := context.AfterFunc(ctx, func() {
		s.Close()
		t := time.NewTimer(stallGrace)
		defer t.Stop()
		select {
		case <-finished:
		case <-t.C:
			c.drop(fmt.Errorf("closed by fleetclaim: the host did not end the sftp transfer within %v of the end of its wait (%w)", stallGrace, ctx.Err()))
		}
	})
	defer stop()
	fail := func(err error) error {
		if ctx.Err() != nil {
			return c.ctxErr(ctx, "upload")
		}
		return &Error{Op: "upload", Host: c.name, Category: CatUpload, Err: fmt.Errorf("sftp %s: %w", file, err)}
	}
	sc, err := sftp.NewClientPipe(stdout, stdin)
	if err != nil {
		return fail(err)
	}
	defer sc.Close()
	f, err := sc.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fail(err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return nil
}

// Pushed records the files a run put on a host, so that they can be
// removed when the run ends.
type Pushed struct {
	// Keep leaves the files in place at Cleanup.
	Keep bool

	mu    sync.Mutex
	items []pushed
}

type pushed struct {
	r    Runner
	path string
}

// Upload uploads like the package's Upload and records dst for Cleanup.
func (p *Pushed) Upload(ctx context.Context, c *Client, r Runner, dst string, content []byte, mode os.FileMode, owner string) error {
	if err := Upload(ctx, c, r, dst, content, mode, owner); err != nil {
		return err
	}
	if r == nil {
		r = c
	}
	p.Add(r, dst)
	return nil
}

// Add records a file that r may remove.
func (p *Pushed) Add(r Runner, path string) {
	p.mu.Lock()
	p.items = append(p.items, pushed{r, path})
	p.mu.Unlock()
}

// Cleanup removes the recorded files (one command per runner) unless Keep
// is set, and forgets them.
func (p *Pushed) Cleanup(ctx context.Context) error {
	p.mu.Lock()
	items := p.items
	p.items = nil
	p.mu.Unlock()
	if p.Keep || len(items) == 0 {
		return nil
	}
	var errs []error
	for len(items) > 0 {
		r := items[0].r
		q := &Quoter{}
		cmd := "rm -f --"
		var rest []pushed
		for _, it := range items {
			if it.r == r {
				cmd += " " + q.Q(it.path)
			} else {
				rest = append(rest, it)
			}
		}
		items = rest
		if q.Err != nil {
			errs = append(errs, q.Err)
			continue
		}
		res, err := r.Run(ctx, cmd, nil)
		if err == nil && res.ExitCode != 0 {
			err = &Error{Op: "cleanup", Category: CatCommand, Err: fmt.Errorf("removing pushed files: %s", clipLine(string(res.Stderr), 300))}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
