package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
	if dst == "" || !strings.HasPrefix(dst, "/") || strings.HasSuffix(dst, "/") {
		return &Error{Op: "upload", Host: c.name, Category: CatInvalidValue, Err: fmt.Errorf("upload destination %q is not an absolute file path", dst)}
	}
	u := &upload{c: c, q: &Quoter{}, dst: dst, dir: path.Dir(dst), base: path.Base(dst), mode: mode, owner: owner}
	if err := u.stage(ctx); err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			u.cleanup(ctx)
		}
	}()
	if err := c.put(ctx, u.staged, content); err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	u.want = hex.EncodeToString(sum[:])
	if u.hashTool == "" {
		// No sha256 tool on the host: read the file back.
		if err := u.readBack(ctx, content); err != nil {
			return err
		}
	}
	if err := u.place(ctx, r); err != nil {
		return err
	}
	done = true
	return nil
}

// upload is one Upload: where the file is staged on the host (staged, in
// stageDir when the login user may not write next to dst) and how the
// host checks its sha256 (hashTool at hashPath; "" when it has no tool for it).
type upload struct {
	c                *Client
	q                *Quoter
	dst, dir, base   string
	mode             os.FileMode
	owner            string
	staged, stageDir string
	hashTool         string // "" when the host has none
	hashPath         string
	want             string // the content's sha256, hex
}

func (u *upload) fail(format string, a ...any) error {
	return &Error{Op: "upload", Host: u.c.name, Category: CatUpload, Err: fmt.Errorf(format, a...)}
}

// The scripts of an upload's steps on the host (see each file's head).
//
//go:embed upload-stage.sh
var uploadStageScript string

//go:embed upload-place.sh
var uploadPlaceScript string

// stage creates the temporary file on the host and finds its sha256 tool.
func (u *upload) stage(ctx context.Context) error {
	u.q.Q(u.dst) // place quotes the destination's parts: refuse it now
	if u.q.Err != nil {
		return u.q.Err
	}
	res, err := RunScript(ctx, u.c, uploadStageScript, u.dir, u.base)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return u.fail("cannot create a temporary file on the host: %s", clipLine(string(res.Stderr), 300))
	}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		f := strings.SplitN(l, " ", 3)
		switch {
		case len(f) >= 2 && f[0] == "file":
			u.staged = strings.TrimPrefix(l, "file ")
		case len(f) >= 2 && f[0] == "dir":
			u.stageDir = strings.TrimPrefix(l, "dir ")
			u.staged = u.stageDir + "/" + u.base
		case len(f) == 3 && f[0] == "hash" && u.hashTool == "":
			if isHashTool(f[1]) {
				u.hashTool, u.hashPath = f[1], f[2]
			}
		}
	}
	if u.staged == "" {
		return u.fail("cannot create a temporary file on the host: unexpected answer %q", clipLine(string(res.Stdout), 200))
	}
	return nil
}

// isHashTool reports whether upload-place.sh knows how to run tool.
func isHashTool(tool string) bool {
	switch tool {
	case "sha256sum", "shasum", "openssl", "sha256":
		return true
	}
	return false
}

// cleanup removes the staged file: nothing half-written is left behind,
// even when ctx is gone.
func (u *upload) cleanup(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	rm := "rm -f " + u.q.Q(u.staged)
	if u.stageDir != "" {
		rm = "rm -rf " + u.q.Q(u.stageDir)
	}
	u.c.Run(cctx, rm, nil)
}

// readBack checks the staged file by reading it back.
func (u *upload) readBack(ctx context.Context, content []byte) error {
	res, err := u.c.Run(ctx, "cat "+u.q.Q(u.staged), nil)
	if err != nil {
		return err
	}
	if !bytes.Equal(res.Stdout, content) {
		return u.fail("the uploaded file differs from what was sent (%d bytes read back, %d sent)", len(res.Stdout), len(content))
	}
	return nil
}

// placeArgs are upload-place.sh's positional parameters.
func (u *upload) placeArgs() []string {
	return []string{u.staged, u.stageDir, u.dir, u.base, u.hashTool, u.hashPath, u.want, u.owner,
		fmt.Sprintf("%04o", uint32(u.mode.Perm()))}
}

// place runs upload-place.sh through r and tells its exit code.
func (u *upload) place(ctx context.Context, r Runner) error {
	res, err := RunScript(ctx, r, uploadPlaceScript, u.placeArgs()...)
	if err != nil {
		return err
	}
	msg := clipLine(string(res.Stderr), 300)
	switch res.ExitCode {
	case 0:
		return nil
	case 3:
		return u.fail("sha256 mismatch after upload, want %s (%s)", u.want, msg)
	case 4:
		return u.fail("cannot write a temporary file next to %s: %s", u.dst, msg)
	case 5:
		return u.fail("cannot compute sha256 on the host: %s", msg)
	case 6:
		return u.fail("cannot set owner %q and mode %04o: %s", u.owner, uint32(u.mode.Perm()), msg)
	case 7:
		return u.fail("cannot move the file into place at %s: %s", u.dst, msg)
	case 8:
		return u.fail("refused to place %s: %s", u.dst, msg)
	}
	return u.fail("moving the file into place failed (exit %d): %s", res.ExitCode, msg)
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
	defer c.guardTransfer(ctx, s)()
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
	if err := writeSFTP(sc, file, content); err != nil {
		return fail(err)
	}
	return nil
}

// writeSFTP writes content to file over sc.
func writeSFTP(sc *sftp.Client, file string, content []byte) error {
	f, err := sc.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// guardTransfer closes s when ctx ends, and the connection when the
// transfer is still going stallGrace later: closing the session does not
// end a read that the host never answers (see await). The returned
// function ends the guard.
func (c *Client) guardTransfer(ctx context.Context, s io.Closer) func() {
	finished := make(chan struct{})
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
	return func() {
		stop()
		close(finished)
	}
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
