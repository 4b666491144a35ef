package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// floorMain is the floor: the least a Go program can do to claim a fleet.
// One connection per host (host key verified), one session running the claim
// command with its script on stdin, nothing else: no probe, no privilege
// handling, no proof that the node came online.
func floorMain(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("fleetbench floor", flag.ContinueOnError)
	hostsFile := fs.String("hosts", "", "file of `USER@ADDR:PORT` lines")
	keyFile := fs.String("key", "", "private key")
	khFile := fs.String("known-hosts", "", "known_hosts file")
	scriptFile := fs.String("script", "", "claim script, sent on stdin of `sh -s`")
	forks := fs.Int("forks", 50, "hosts in flight")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	hosts, err := readLines(*hostsFile)
	if err != nil {
		return fatalf("floor: %v", err)
	}
	script, err := os.ReadFile(*scriptFile)
	if err != nil {
		return fatalf("floor: %v", err)
	}
	keyPEM, err := os.ReadFile(*keyFile)
	if err != nil {
		return fatalf("floor: %v", err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		return fatalf("floor: %s: %v", *keyFile, err)
	}
	hkcb, err := knownhosts.New(*khFile)
	if err != nil {
		return fatalf("floor: %v", err)
	}
	work := make(chan string)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range *forks {
		wg.Go(func() {
			for h := range work {
				if err := floorHost(ctx, h, signer, hkcb, script); err != nil {
					failed.Add(1)
					fmt.Fprintf(os.Stderr, "floor: %s: %v\n", h, err)
				}
			}
		})
	}
	for _, h := range hosts {
		work <- h
	}
	close(work)
	wg.Wait()
	fmt.Printf("floor: %d hosts, %d failed\n", len(hosts), failed.Load())
	if failed.Load() > 0 {
		return 1
	}
	return 0
}

func floorHost(ctx context.Context, target string, signer ssh.Signer, hkcb ssh.HostKeyCallback, script []byte) error {
	user, addr, ok := strings.Cut(target, "@")
	if !ok {
		return fmt.Errorf("want USER@ADDR:PORT")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hkcb, Timeout: time.Minute}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return err
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	var out bytes.Buffer
	s.Stdin = bytes.NewReader(script)
	s.Stdout, s.Stderr = &out, &out
	if err := s.Run("sh -s"); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}
