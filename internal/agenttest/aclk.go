package agenttest

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// The stand-in's Agent-Cloud Link, enough for a v2 agent to come online: the
// /env, challenge and password answers of its HTTPS API and an MQTT 5
// broker over WebSocket that accepts the connection, subscriptions and
// publishes. Each answer follows the agent's own reader of it
// (src/aclk at v2.11.0, cited below); nothing the agent sends is
// interpreted beyond what those answers need.

// aclkTopicNames are the topic names the agent requires in the password
// answer (aclk_util.c:125-175, topic_names and compulsory_topics).
var aclkTopicNames = []string{"chart", "alarms", "meta", "inbox-cmd", "agent-connection", "inbox-cmd-v1",
	"create-node-instance", "node-instance-connection", "chart-and-dims-updated", "chart-configs-updated",
	"reset-charts", "chart-retention-updated", "node-instance-info", "alarm-log-v2", "alarm-checkpoint",
	"alarm-config", "alarm-snapshot-v2", "node-instance-collectors", "contexts-snapshot", "contexts-updated",
	"node-instance-manifest"}

// challengeLen is the plaintext challenge; the agent expects the encrypted
// one to be 256 bytes, 344 in base64 (aclk_otp.c:279-280, an RSA-2048 key).
const challengeLen = 32

// serveACLK answers the link's requests; it reports whether r was one.
func (c *Cloud) serveACLK(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/api/v1/env" && r.Method == http.MethodGet:
		c.serveEnv(w, r)
	case strings.HasPrefix(p, "/api/v1/auth/node/") && strings.HasSuffix(p, "/challenge") && r.Method == http.MethodGet:
		c.serveChallenge(w, strings.TrimSuffix(strings.TrimPrefix(p, "/api/v1/auth/node/"), "/challenge"))
	case strings.HasPrefix(p, "/api/v1/auth/node/") && strings.HasSuffix(p, "/password") && r.Method == http.MethodPost:
		c.servePassword(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/api/v1/auth/node/"), "/password"))
	case p == "/mqtt":
		c.serveMQTT(w, r)
	default:
		return false
	}
	return true
}

// serveEnv: /api/v1/env (aclk_otp.c:703-781 parse_json_env: authEndpoint,
// encoding "proto", transports [{type "MQTTv5", endpoint}], backoff {base
// 1-10, maxSeconds >= 500, minSeconds}, capabilities with "proto",
// aclk.c:684-693).
func (c *Cloud) serveEnv(w http.ResponseWriter, r *http.Request) {
	// The agent's Host header has no port (README of the shared archive):
	// the stand-in's own address.
	host := strings.TrimPrefix(c.URL, "https://")
	writeJSON(w, http.StatusOK, map[string]any{
		"authEndpoint": "https://" + host + "/api/v1/auth",
		"encoding":     "proto",
		"transports":   []any{map[string]any{"type": "MQTTv5", "endpoint": "wss://" + host + "/mqtt"}},
		"backoff":      map[string]any{"base": 2, "maxSeconds": 500, "minSeconds": 1},
		"capabilities": []any{"proto", "ctx"},
	})
}

// serveChallenge: GET <auth>/node/<claim id>/challenge, 200 {"challenge":
// base64 of the challenge encrypted with the node's public key, RSA OAEP}
// (aclk_otp.c:283-355; the agent decrypts with RSA_PKCS1_OAEP_PADDING,
// :406-447, whose hash is SHA-1).
func (c *Cloud) serveChallenge(w http.ResponseWriter, id string) {
	c.mu.Lock()
	pemKey := c.keys[id]
	c.mu.Unlock()
	pub, err := parsePublicKey(pemKey)
	if err != nil {
		writeJSON(w, http.StatusForbidden, map[string]any{"errorMsgKey": "ErrForbidden", "errorMessage": "unknown node"})
		return
	}
	plain := make([]byte, challengeLen)
	rand.Read(plain)
	enc, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, plain, nil)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"errorMsgKey": "ErrInternalServerError"})
		return
	}
	c.mu.Lock()
	c.challenges[id] = base64.StdEncoding.EncodeToString(plain)
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"challenge": base64.StdEncoding.EncodeToString(enc)})
}

// servePassword: POST <auth>/node/<claim id>/password {"agent_version",
// "response"}, 201 {"clientID", "username", "password", "topics": [{"name",
// "topic"}]} (aclk_otp.c:358-404, parse_passwd_response :54-115).
func (c *Cloud) servePassword(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		Response string `json:"response"`
	}
	json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body)
	c.mu.Lock()
	want := c.challenges[id]
	c.mu.Unlock()
	if want == "" || body.Response != want {
		writeJSON(w, http.StatusForbidden, map[string]any{"errorMsgKey": "ErrForbidden", "errorMessage": "wrong challenge response"})
		return
	}
	var topics []any
	for _, n := range aclkTopicNames {
		// The agent keeps only topics holding its claimed id's tag
		// (aclk_util.c:199-217 topic_generate_final).
		topics = append(topics, map[string]any{"name": n, "topic": "/agent/#{claim_id}/" + n})
	}
	writeJSON(w, http.StatusCreated, map[string]any{"clientID": id, "username": id, "password": "stand-in-" + id, "topics": topics})
}

func parsePublicKey(s string) (*rsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("no PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return pub, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// wsGUID is RFC 6455's key suffix (the agent's mqtt_protoid, ws_client.c:18).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// serveMQTT takes the agent's WebSocket upgrade (ws_client.c:9-16: GET
// /mqtt, Sec-WebSocket-Protocol: mqtt) and runs a broker on it.
func (c *Cloud) serveMQTT(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	hj, ok := w.(http.Hijacker)
	if !ok || key == "" || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "not a websocket upgrade", http.StatusBadRequest)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	sum := sha1.Sum([]byte(key + wsGUID))
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	if rw.Flush() != nil {
		return
	}
	c.mu.Lock()
	c.mqttConns++
	c.mu.Unlock()
	b := &broker{conn: conn, in: rw.Reader}
	b.run()
}

// broker is a minimal MQTT 5 broker over one WebSocket connection.
type broker struct {
	conn net.Conn
	in   *bufio.Reader
	buf  []byte // MQTT bytes received, not yet parsed
}

func (b *broker) run() {
	for {
		payload, op, err := b.readFrame()
		if err != nil || op == 0x8 {
			return
		}
		if op == 0x9 { // ping
			b.writeFrame(0xA, payload)
			continue
		}
		b.buf = append(b.buf, payload...)
		for {
			pkt, rest, ok := nextPacket(b.buf)
			if !ok {
				break
			}
			b.buf = rest
			if !b.answer(pkt) {
				return
			}
		}
	}
}

// answer replies to one MQTT control packet (MQTT 5.0 section 3).
func (b *broker) answer(pkt []byte) bool {
	typ := pkt[0] >> 4
	body := pkt[varintLen(pkt[1:])+1:]
	switch typ {
	case 1: // CONNECT → CONNACK: no session, success, no properties
		b.writeFrame(0x2, []byte{0x20, 0x03, 0x00, 0x00, 0x00})
	case 3: // PUBLISH: QoS 1 → PUBACK
		qos := (pkt[0] >> 1) & 3
		if qos > 0 && len(body) >= 2 {
			tl := int(binary.BigEndian.Uint16(body))
			if len(body) >= 2+tl+2 {
				id := body[2+tl : 2+tl+2]
				b.writeFrame(0x2, []byte{0x40, 0x02, id[0], id[1]})
			}
		}
	case 8: // SUBSCRIBE → SUBACK granting QoS 1 to each filter
		if len(body) < 2 {
			return false
		}
		id := body[:2]
		rest := body[2:]
		pl, n := varint(rest)
		rest = rest[n+pl:]
		var codes []byte
		for len(rest) >= 2 {
			l := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+l+1 {
				break
			}
			rest = rest[2+l+1:]
			codes = append(codes, 0x01)
		}
		out := append([]byte{id[0], id[1], 0x00}, codes...)
		b.writeFrame(0x2, append([]byte{0x90, byte(len(out))}, out...))
	case 12: // PINGREQ → PINGRESP
		b.writeFrame(0x2, []byte{0xD0, 0x00})
	case 14: // DISCONNECT
		return false
	}
	return true
}

// nextPacket splits the first complete MQTT packet off buf.
func nextPacket(buf []byte) ([]byte, []byte, bool) {
	if len(buf) < 2 {
		return nil, buf, false
	}
	l, n := varint(buf[1:])
	if n == 0 || len(buf) < 1+n+l {
		return nil, buf, false
	}
	return buf[:1+n+l], buf[1+n+l:], true
}

// varint reads an MQTT variable byte integer: its value and length (0 when
// incomplete).
func varint(b []byte) (int, int) {
	v, mul := 0, 1
	for i := 0; i < len(b) && i < 4; i++ {
		v += int(b[i]&0x7f) * mul
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
		mul *= 128
	}
	return 0, 0
}

func varintLen(b []byte) int { _, n := varint(b); return n }

// readFrame reads one WebSocket frame (RFC 6455 5.2; the client masks).
func (b *broker) readFrame() ([]byte, byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(b.in, h[:]); err != nil {
		return nil, 0, err
	}
	op := h[0] & 0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(b.in, e[:]); err != nil {
			return nil, 0, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(b.in, e[:]); err != nil {
			return nil, 0, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if n > 16<<20 {
		return nil, 0, errors.New("frame too large")
	}
	var mask [4]byte
	if h[1]&0x80 != 0 {
		if _, err := io.ReadFull(b.in, mask[:]); err != nil {
			return nil, 0, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(b.in, p); err != nil {
		return nil, 0, err
	}
	if h[1]&0x80 != 0 {
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return p, op, nil
}

// writeFrame writes one unmasked final frame (a server does not mask).
func (b *broker) writeFrame(op byte, p []byte) error {
	h := []byte{0x80 | op}
	switch {
	case len(p) < 126:
		h = append(h, byte(len(p)))
	case len(p) < 1<<16:
		h = append(h, 126, byte(len(p)>>8), byte(len(p)))
	default:
		h = append(h, 127)
		h = binary.BigEndian.AppendUint64(h, uint64(len(p)))
	}
	_, err := b.conn.Write(append(h, p...))
	return err
}
