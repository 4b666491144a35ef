package lab

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ssh"
)

// keyring derives every per-lab identity (host keys, machine GUIDs, the Space,
// room ids, the client key) from one 32-byte secret, so a lab restarted on the
// same directory keeps its identities without storing one file per host.
type keyring struct{ secret [32]byte }

// loadKeyring reads DIR/lab-secret, or creates it: from seed when one is given
// (reproducible labs), otherwise from crypto/rand.
func loadKeyring(dir, seed string) (keyring, error) {
	path := filepath.Join(dir, "lab-secret")
	var k keyring
	data, err := os.ReadFile(path)
	if err == nil && len(data) == 32 {
		copy(k.secret[:], data)
		return k, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return k, fmt.Errorf("read lab secret: %w", err)
	}
	if seed != "" {
		k.secret = sha256.Sum256([]byte("fleetclaim lab seed\x00" + seed))
	} else if _, err := rand.Read(k.secret[:]); err != nil {
		return k, fmt.Errorf("generate lab secret: %w", err)
	}
	if err := writeFileAtomic(path, k.secret[:], 0o600); err != nil {
		return k, err
	}
	return k, nil
}

// derive returns 32 bytes bound to label.
func (k keyring) derive(label string) [32]byte {
	h := sha256.New()
	h.Write(k.secret[:])
	h.Write([]byte{0})
	h.Write([]byte(label))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// uuid returns a version-4-shaped UUID derived from label.
func (k keyring) uuid(label string) string {
	b := k.derive(label)
	return formatUUID(b[:16])
}

// hostKey is the ed25519 host key of the named host; alt selects the
// impersonator key a FaultHostKeyChanged host presents instead.
func (k keyring) hostKey(name string, alt bool) ed25519.PrivateKey {
	label := "hostkey:" + name
	if alt {
		label = "hostkey-changed:" + name
	}
	seed := k.derive(label)
	return ed25519.NewKeyFromSeed(seed[:])
}

// token is the lab Cloud's claim token.
func (k keyring) token() string {
	a, b := k.derive("token:0"), k.derive("token:1")
	return base64.RawURLEncoding.EncodeToString(append(a[:], b[:16]...))
}

// formatUUID renders 16 bytes as a lowercase RFC 4122 version 4 UUID.
func formatUUID(b []byte) string {
	var u [16]byte
	copy(u[:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// randomUUID is a fresh random version 4 UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return formatUUID(b[:])
}

// isUUID reports whether s is a canonical UUID (any version, any case).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// writeClientKey writes DIR/id_ed25519 and DIR/id_ed25519.pub and returns the public key.
func writeClientKey(dir string, k keyring) (ssh.PublicKey, error) {
	seed := k.derive("client-key")
	priv := ed25519.NewKeyFromSeed(seed[:])
	block, err := ssh.MarshalPrivateKey(priv, "fleetclaim-lab")
	if err != nil {
		return nil, fmt.Errorf("encode client key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "id_ed25519"), pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("client public key: %w", err)
	}
	line := ssh.MarshalAuthorizedKey(pub) // ends in "\n"
	line = append(line[:len(line)-1], " fleetclaim-lab\n"...)
	if err := writeFileAtomic(filepath.Join(dir, "id_ed25519.pub"), line, 0o600); err != nil {
		return nil, err
	}
	return pub, nil
}

// agentKeyPEM returns the one RSA-2048 key pair every simulated agent uses
// (private key PEM, public key PEM), generating DIR/agent-rsa.pem once per lab
// directory: real agents generate one per node, which would cost the lab
// ~50-100 ms of CPU per host.
func agentKeyPEM(dir string) (privPEM, pubPEM []byte, err error) {
	path := filepath.Join(dir, "agent-rsa.pem")
	var key *rsa.PrivateKey
	if data, err := os.ReadFile(path); err == nil {
		if block, _ := pem.Decode(data); block != nil {
			if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
				key, _ = k.(*rsa.PrivateKey)
			}
		}
	}
	if key == nil {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, fmt.Errorf("generate agent RSA key: %w", err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode agent RSA key: %w", err)
	}
	privPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeFileAtomic(path, privPEM, 0o600); err != nil {
		return nil, nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("encode agent RSA public key: %w", err)
	}
	return privPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), nil
}

// cloudCA is the lab Cloud's certificate authority. Its key is kept in
// DIR/cloud-ca.key so a restarted lab keeps serving certificates the hosts
// (which got cloud-ca.pem installed as cloud_fullchain.pem) still trust.
type cloudCA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

func loadCloudCA(dir string) (*cloudCA, error) {
	keyPath, certPath := filepath.Join(dir, "cloud-ca.key"), filepath.Join(dir, "cloud-ca.pem")
	keyData, kerr := os.ReadFile(keyPath)
	certData, cerr := os.ReadFile(certPath)
	if kerr == nil && cerr == nil {
		kb, _ := pem.Decode(keyData)
		cb, _ := pem.Decode(certData)
		if kb != nil && cb != nil {
			key, err1 := x509.ParseECPrivateKey(kb.Bytes)
			cert, err2 := x509.ParseCertificate(cb.Bytes)
			if err1 == nil && err2 == nil && time.Now().Before(cert.NotAfter) {
				return &cloudCA{cert: cert, certPEM: certData, key: key}, nil
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate lab CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "fleetclaim lab Cloud CA", Organization: []string{"fleetclaim lab"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create lab CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse lab CA: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode lab CA key: %w", err)
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	return &cloudCA{cert: cert, certPEM: certPEM, key: key}, nil
}

// serverCert issues a certificate for 127.0.0.1 / localhost / ::1.
func (ca *cloudCA) serverCert() (ecdsaLeaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return ecdsaLeaf{}, fmt.Errorf("generate lab Cloud key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"fleetclaim lab"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return ecdsaLeaf{}, fmt.Errorf("sign lab Cloud certificate: %w", err)
	}
	return ecdsaLeaf{der: der, key: key}, nil
}

type ecdsaLeaf struct {
	der []byte
	key *ecdsa.PrivateKey
}

func serial() *big.Int {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return new(big.Int).SetUint64(binary.BigEndian.Uint64(b[:]) >> 1)
}

// writeFileAtomic writes data to path through a temporary file created with
// the final mode, then renames it into place.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
