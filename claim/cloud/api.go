package cloud

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
	"github.com/fleetclaim/fleetclaim/inventory"
	"github.com/fleetclaim/fleetclaim/remote"
)

// APIOptions tune a API client.
type APIOptions struct {
	// CAFile is a PEM file of CA certificates trusted besides the system's
	// (the inventory's ca_file: the Cloud url is shared with the claim url).
	CAFile string
	// Insecure skips certificate verification (the inventory's insecure).
	Insecure bool
	// AllowInsecure is the user's explicit acceptance (api_insecure,
	// --api-insecure) that the API token may travel over plain http, or
	// to a server whose certificate is not verified. Without it such a
	// client is refused, and a redirect away from https is not followed.
	AllowInsecure bool
	// MaxAttempts bounds the tries of one request (429, 5xx, network
	// errors); default 5. A request is never retried forever.
	MaxAttempts int
	// Backoff is the first pause before a retry, doubled each time up to
	// MaxBackoff (defaults 1s and 30s). A Retry-After answer is honored
	// when it is longer, up to MaxRetryAfter (default 60s); a longer one
	// ends the retries.
	Backoff, MaxBackoff, MaxRetryAfter time.Duration
	// Rate is the most requests per second this client sends over time
	// (default 10); Burst requests may go at once before the rate applies
	// (default 20), so that a small fleet's checks are not queued.
	Rate  float64
	Burst int
	// HTTPClient replaces the client built from CAFile/Insecure (tests).
	HTTPClient *http.Client
	// Sleep waits between attempts; nil waits for real (tests record the
	// pauses instead).
	Sleep func(ctx context.Context, d time.Duration) error
}

// API is a client of Netdata Cloud's user API. The API token is a
// Secret: it only ever goes into the Authorization header, and any error
// text that would echo it is redacted. Safe for concurrent use.
type API struct {
	base  string
	token inventory.Secret
	hc    *http.Client
	opts  APIOptions

	mu   sync.Mutex
	next time.Time // earliest start of the next request (rate limit)
}

// NewAPI returns a client of the Cloud at baseURL.
func NewAPI(baseURL string, token inventory.Secret, opts APIOptions) (*API, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, &claim.Error{Category: claim.CatCloudAPI, Msg: fmt.Sprintf("Cloud API: bad url %q", baseURL)}
	}
	if token.IsZero() {
		return nil, &claim.Error{Category: claim.CatCloudAPIScope, Msg: "Cloud API: no API token"}
	}
	if err := checkTransport(u, opts); err != nil {
		return nil, err
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = time.Minute
	}
	if opts.Rate <= 0 {
		opts.Rate = 10
	}
	if opts.Burst <= 0 {
		opts.Burst = 20
	}
	if opts.Sleep == nil {
		opts.Sleep = apiSleep
	}
	hc := opts.HTTPClient
	if hc == nil {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.Insecure}
		if opts.CAFile != "" && !opts.Insecure {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			pem, err := os.ReadFile(opts.CAFile)
			if err != nil {
				return nil, &claim.Error{Category: claim.CatCloudAPI, Msg: "Cloud API: CA file", Err: err}
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &claim.Error{Category: claim.CatCloudAPI, Msg: fmt.Sprintf("Cloud API: no certificate in %s", opts.CAFile)}
			}
			tc.RootCAs = pool
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		tr.MaxIdleConnsPerHost = 4
		hc = &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: redirectPolicy(opts.AllowInsecure)}
	}
	return &API{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc, opts: opts}, nil
}

// ErrInsecureTransport is the sentinel of a Cloud API client refused
// because its token would travel unprotected.
var ErrInsecureTransport = errors.New("the API token would travel unprotected")

// checkTransport refuses to send the API token (an Authorization header)
// over plain http or without verifying the server, unless the user
// accepted that risk by name.
func checkTransport(u *url.URL, opts APIOptions) error {
	if opts.AllowInsecure {
		return nil
	}
	what := ""
	switch {
	case u.Scheme == "http":
		what = "over plain http to " + u.Redacted()
	case opts.Insecure:
		what = "to " + u.Redacted() + " without verifying its certificate (insecure: yes)"
	default:
		return nil
	}
	return &claim.Error{Category: claim.CatCloudAPI, Err: ErrInsecureTransport,
		Msg: "Cloud API: not sending the API token " + what + ": use an https url with a verified certificate (ca_file for a private CA), or accept the risk with api_insecure: yes (or --api-insecure)"}
}

// maxRedirects bounds the redirects the API client follows.
const maxRedirects = 10

// redirectPolicy follows redirects that stay on https (Go drops the
// Authorization header when the host changes, not when the scheme does).
func redirectPolicy(allowInsecure bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if req.URL.Scheme != "https" && !allowInsecure {
			return fmt.Errorf("%w: not following a redirect to %s", ErrInsecureTransport, req.URL.Redacted())
		}
		return nil
	}
}

// String and GoString keep the token out of any printing of the client.
func (c *API) String() string   { return "API(" + c.base + ")" }
func (c *API) GoString() string { return c.String() }

func apiSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Space is a Space the API token sees.
type Space struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug,omitempty"`
}

// Room is a room of a Space.
type Room struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Node is a node as Cloud lists it in a room.
type Node struct {
	ID    string `json:"nd"`
	Name  string `json:"nm"`
	State string `json:"state"`
}

// Spaces lists the Spaces the API token sees.
func (c *API) Spaces(ctx context.Context) ([]Space, error) {
	body, err := c.do(ctx, http.MethodGet, "/api/v3/spaces", nil)
	if err != nil {
		return nil, err
	}
	var out []Space
	if err := decodeList(body, &out); err != nil {
		return nil, c.parseErr("/api/v3/spaces", err)
	}
	return out, nil
}

// Rooms lists the rooms of a Space.
func (c *API) Rooms(ctx context.Context, space string) ([]Room, error) {
	p := "/api/v2/spaces/" + url.PathEscape(space) + "/rooms"
	body, err := c.do(ctx, http.MethodGet, p, nil)
	if err != nil {
		return nil, err
	}
	rooms, err := ParseRooms(body)
	if err != nil {
		return nil, c.parseErr(p, err)
	}
	return rooms, nil
}

// RoomNodes asks Cloud about nodes of a room, with their state: the nodes
// named (the request's scope), or every node of the room when none is named.
// An answer that lists more than was asked (a Cloud that ignores the scope)
// is cut down to the nodes named.
func (c *API) RoomNodes(ctx context.Context, space, room string, nodeIDs []string) ([]Node, error) {
	p := "/api/v3/spaces/" + url.PathEscape(space) + "/rooms/" + url.PathEscape(room) + "/nodes"
	var req struct {
		Scope struct {
			Nodes []string `json:"nodes"`
		} `json:"scope"`
	}
	req.Scope.Nodes = nodeIDs
	if req.Scope.Nodes == nil {
		req.Scope.Nodes = []string{}
	}
	reqBody, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	body, err := c.do(ctx, http.MethodPost, p, reqBody)
	if err != nil {
		return nil, err
	}
	nodes, err := ParseRoomNodes(body)
	if err != nil {
		return nil, c.parseErr(p, err)
	}
	if len(nodeIDs) == 0 {
		return nodes, nil
	}
	asked := make(map[string]bool, len(nodeIDs))
	for _, id := range nodeIDs {
		asked[strings.ToLower(id)] = true
	}
	kept := nodes[:0]
	for _, n := range nodes {
		if asked[strings.ToLower(n.ID)] {
			kept = append(kept, n)
		}
	}
	return kept, nil
}

// AddToRoom adds claimed nodes of the Space to a room.
func (c *API) AddToRoom(ctx context.Context, space, room string, nodeIDs []string) error {
	p := "/api/v1/spaces/" + url.PathEscape(space) + "/rooms/" + url.PathEscape(room) + "/claimed-nodes"
	body, err := json.Marshal(nodeIDs)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, p, body)
	return err
}

// RemoveFromRoom removes nodes from a room of the Space: DELETE
// /api/v1/spaces/{space}/rooms/{room}/claimed-nodes?node_ids=ID,... as
// terraform-provider-netdata's DeleteNodeRoomMember sends it
// (internal/client/node_room_member.go, commit f86f47e). The nodes stay in
// the Space: no public endpoint removes a node from it.
func (c *API) RemoveFromRoom(ctx context.Context, space, room string, nodeIDs []string) error {
	p := "/api/v1/spaces/" + url.PathEscape(space) + "/rooms/" + url.PathEscape(room) + "/claimed-nodes?node_ids=" + url.QueryEscape(strings.Join(nodeIDs, ","))
	_, err := c.do(ctx, http.MethodDelete, p, nil)
	return err
}

// RotateClaimToken asks Cloud for a new claim token of the Space. The old
// token stops working for everyone who uses it.
func (c *API) RotateClaimToken(ctx context.Context, space string) (inventory.Secret, error) {
	p := "/api/v1/spaces/" + url.PathEscape(space) + "/token/rotate"
	body, err := c.do(ctx, http.MethodPost, p, nil)
	if err != nil {
		return inventory.Secret{}, err
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || strings.TrimSpace(out.Token) == "" {
		return inventory.Secret{}, &claim.Error{Category: claim.CatCloudAPI, Msg: "Cloud API: POST " + p + ": the answer holds no token"}
	}
	return inventory.NewSecret(strings.TrimSpace(out.Token)), nil
}

// ResolveSpace finds the Space named (or with the id) want; an empty want
// picks the only Space the token sees.
func (c *API) ResolveSpace(ctx context.Context, want string) (Space, error) {
	spaces, err := c.Spaces(ctx)
	if err != nil {
		if want != "" && inventory.IsRoomID(want) {
			// An id is usable even when the token may not list Spaces.
			var e *claim.Error
			if errors.As(err, &e) && e.Category == claim.CatCloudAPIScope {
				return Space{ID: strings.ToLower(want)}, nil
			}
		}
		return Space{}, err
	}
	return pickSpace(want, spaces)
}

func pickSpace(want string, spaces []Space) (Space, error) {
	names := func() string {
		cs := make([]string, len(spaces))
		for i, s := range spaces {
			cs[i] = strconv.Quote(s.Name)
		}
		sort.Strings(cs)
		if len(cs) == 0 {
			return "(none)"
		}
		return strings.Join(cs, ", ")
	}
	if want == "" {
		if len(spaces) == 1 {
			return spaces[0], nil
		}
		return Space{}, &claim.Error{Category: claim.CatCloudAPI, Msg: fmt.Sprintf("the API token sees %d Spaces: set space to one of %s", len(spaces), names())}
	}
	var match []Space
	for _, s := range spaces {
		if strings.EqualFold(s.ID, want) || s.Name == want || (s.Slug != "" && s.Slug == want) {
			match = append(match, s)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		if inventory.IsRoomID(want) {
			return Space{ID: strings.ToLower(want), Name: want}, nil
		}
		return Space{}, &claim.Error{Category: claim.CatCloudAPI, Msg: fmt.Sprintf("no Space %q among the API token's Spaces: %s", want, names())}
	}
	return Space{}, &claim.Error{Category: claim.CatCloudAPI, Msg: fmt.Sprintf("%d Spaces are named %q: set space to the id of the one you mean", len(match), want)}
}

// ParseRooms reads the answer of GET /api/v2/spaces/{space}/rooms.
func ParseRooms(body []byte) ([]Room, error) {
	var out []Room
	if err := decodeList(body, &out); err != nil {
		return nil, err
	}
	for _, r := range out {
		if r.ID == "" {
			return nil, errors.New("a room without an id")
		}
	}
	return out, nil
}

// ParseRoomNodes reads the answer of POST /api/v3/spaces/{space}/rooms/{room}/nodes:
// {"nodes":[{nd,nm,state}]} (a bare list is accepted too).
func ParseRoomNodes(body []byte) ([]Node, error) {
	body = bytes.TrimSpace(body)
	var out []Node
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, err
		}
	} else {
		var wrap struct {
			Nodes *[]Node `json:"nodes"`
		}
		if err := json.Unmarshal(body, &wrap); err != nil {
			return nil, err
		}
		if wrap.Nodes == nil {
			return nil, errors.New(`no "nodes" in the answer`)
		}
		out = *wrap.Nodes
	}
	for i := range out {
		if out[i].ID == "" {
			return nil, errors.New("a node without an id (nd)")
		}
		out[i].ID = strings.ToLower(out[i].ID)
	}
	return out, nil
}

// decodeList reads a JSON list, also when Cloud wraps it as {"data":[...]}.
func decodeList(body []byte, out any) error {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		var wrap struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &wrap); err != nil {
			return err
		}
		if len(wrap.Data) == 0 {
			return errors.New("want a list")
		}
		body = wrap.Data
	}
	return json.Unmarshal(body, out)
}

func (c *API) parseErr(path string, err error) error {
	return &claim.Error{Category: claim.CatCloudAPI, Msg: "Cloud API: " + path + ": unexpected answer", Err: errors.New(c.redact(err.Error()))}
}

// redact removes the API token from a text that might echo it.
func (c *API) redact(s string) string {
	if t := c.token.Reveal(); t != "" {
		s = strings.ReplaceAll(s, t, "[REDACTED]")
	}
	return s
}

// wait holds a request back to the configured rate.
func (c *API) wait(ctx context.Context) error {
	if d := c.reserve(time.Now()); d > 0 {
		return apiSleep(ctx, d)
	}
	return ctx.Err()
}

// reserve books the next request's start and returns how long to wait for
// it: a virtual scheduling time advances by 1/Rate per request, and a
// request may start once that time is less than Burst-1 gaps ahead of now.
func (c *API) reserve(now time.Time) time.Duration {
	gap := time.Duration(float64(time.Second) / c.opts.Rate)
	c.mu.Lock()
	defer c.mu.Unlock()
	tat := c.next
	if tat.Before(now) {
		tat = now
	}
	c.next = tat.Add(gap)
	return max(tat.Add(-gap*time.Duration(c.opts.Burst-1)).Sub(now), 0)
}

// apiError is Cloud's error body.
type apiError struct {
	Key string `json:"errorMsgKey"`
	Msg string `json:"errorMessage"`
}

// do sends one request, retrying 429, 5xx and network errors with backoff
// (honoring Retry-After) at most MaxAttempts times.
func (c *API) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	backoff := c.opts.Backoff
	var last error
	for attempt := 1; ; attempt++ {
		if err := c.wait(ctx); err != nil {
			return nil, err
		}
		data, status, retryAfter, err := c.once(ctx, method, path, body)
		if err == nil {
			return data, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A refused connection is an answer too (nothing listens): not retried.
		retryable := (status == 0 && !errors.Is(err, syscall.ECONNREFUSED)) || status == http.StatusTooManyRequests || status >= 500
		if !retryable {
			return nil, err
		}
		if attempt >= c.opts.MaxAttempts {
			return nil, &claim.Error{Category: claim.CatCloudAPI, Msg: fmt.Sprintf("Cloud API: gave up after %d attempts", attempt), Err: last}
		}
		pause := backoff
		if retryAfter > c.opts.MaxRetryAfter {
			return nil, &claim.Error{Category: claim.CatCloudAPI, Msg: fmt.Sprintf("Cloud API: asked to retry after %s (more than %s): not waiting", retryAfter, c.opts.MaxRetryAfter), Err: last}
		}
		if retryAfter > pause {
			pause = retryAfter
		}
		if err := c.opts.Sleep(ctx, pause); err != nil {
			return nil, err
		}
		backoff = min(backoff*2, c.opts.MaxBackoff)
	}
}

// once sends one request; status is 0 when no answer came.
func (c *API) once(ctx context.Context, method, path string, body []byte) ([]byte, int, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, 0, 0, &claim.Error{Category: claim.CatCloudAPI, Msg: "Cloud API: " + c.redact(err.Error())}
	}
	req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		e := &claim.Error{Category: claim.CatCloudAPI, Msg: fmt.Sprintf("Cloud API: %s %s", method, path), Err: errors.New(c.redact(unwrapURLError(err)))}
		if errors.Is(err, syscall.ECONNREFUSED) {
			e.Err = fmt.Errorf("%w (%s)", syscall.ECONNREFUSED, c.redact(unwrapURLError(err)))
		}
		return nil, 0, 0, e
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, 0, 0, &claim.Error{Category: claim.CatCloudAPI, Msg: fmt.Sprintf("Cloud API: %s %s: reading the answer", method, path), Err: errors.New(c.redact(err.Error()))}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, resp.StatusCode, 0, nil
	}
	var ae apiError
	_ = json.Unmarshal(data, &ae)
	detail := strings.TrimSpace(ae.Key + " " + ae.Msg)
	if detail == "" {
		detail = strings.TrimSpace(remote.Clip(string(data), 200))
	}
	detail = c.redact(detail)
	what := fmt.Sprintf("Cloud API: %s %s: %d %s", method, path, resp.StatusCode, http.StatusText(resp.StatusCode))
	if detail != "" {
		what += " (" + detail + ")"
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, resp.StatusCode, 0, &claim.Error{Category: claim.CatCloudAPIScope, Msg: what + ": the API token lacks scope for this request, or is invalid or expired; create one with the scopes fleetclaim needs (read rooms and nodes; add nodes to rooms and rotate the claim token only for --fix-rooms and --fetch-claim-token)"}
	}
	return nil, resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), time.Now()), &claim.Error{Category: claim.CatCloudAPI, Msg: what}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > 1<<20 {
			n = 1 << 20
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func unwrapURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
