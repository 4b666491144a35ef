package inventory

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Inventory is a loaded, validated and resolved inventory: every host with every
// setting decided.
type Inventory struct {
	// Path is the file the inventory was read from.
	Path string
	// Format is "native", "ansible-yaml" or "ansible-ini".
	Format string
	// Hosts in the order the inventory names them, each exactly once; nil
	// when loaded with LoadOptions.Lazy (see Len, Host and Choose).
	Hosts []*Host
	// Groups by name, for host selection (--limit).
	Groups map[string]*Group
	// Warnings are problems that do not stop a run (an inline token, say).
	Warnings []Diagnostic

	// lookupEnv is LoadOptions.LookupEnv, used by CheckSecrets.
	lookupEnv func(string) (string, bool)
	// roomRefs are the rooms the inventory gives by name, where written.
	roomRefs []RoomRef
	// res resolves hosts on demand (LoadOptions.Lazy); nil when Hosts
	// holds every host.
	res *loader
}

// Len is the number of hosts.
func (inv *Inventory) Len() int {
	if inv.res != nil {
		return len(inv.res.hosts)
	}
	return len(inv.Hosts)
}

// Host returns host i (0 <= i < Len) in inventory order. In a lazy
// inventory each call resolves the host anew: a new *Host, which the
// caller may change.
func (inv *Inventory) Host(i int) *Host {
	if inv.res != nil {
		return inv.res.host(i)
	}
	return inv.Hosts[i]
}

// hostName and hostGroups read host i without resolving it.
func (inv *Inventory) hostName(i int) string {
	if inv.res != nil {
		return inv.res.hosts[i].name
	}
	return inv.Hosts[i].Name
}

func (inv *Inventory) hostGroups(i int) []string {
	if inv.res != nil {
		return inv.res.hosts[i].combo.groups
	}
	return inv.Hosts[i].Groups
}

// Group is a named set of hosts, possibly with child groups.
type Group struct {
	Name     string
	Children []string
	// Hosts directly in this group (not through children), by inventory name.
	Hosts []string
}

// Host is one resolved host.
type Host struct {
	// Name is the host's inventory name: what results and --limit speak of.
	Name string
	// Groups the host belongs to, directly or through a child group, the
	// direct ones first.
	Groups []string

	Address string
	Port    int
	User    string
	// IdentityFiles are private key files, absolute paths.
	IdentityFiles []string
	// Jump is the chain of jump hosts, outermost first (ProxyJump a,b).
	Jump []Endpoint
	// KnownHosts files, absolute paths; the first one is written to under
	// the accept-new policy.
	KnownHosts    []string
	HostKeyPolicy string // strict | accept-new | off
	// HostKeyAlias is the name host keys are looked up and recorded under
	// instead of the address (ssh_config HostKeyAlias).
	HostKeyAlias string
	// HashKnownHosts hashes the names of keys recorded under accept-new
	// (a file whose entries are hashed is followed anyway).
	HashKnownHosts bool
	// ProxyCommand is run with sh -c and the SSH connection is made over
	// its stdin and stdout (tokens %h %p %r %n %% expanded at dial time);
	// empty for a direct connection.
	ProxyCommand string
	// CertificateFiles are OpenSSH user certificates, absolute paths,
	// offered with the matching private key.
	CertificateFiles []string
	// IdentityAgent is the ssh-agent socket: empty for the run's own
	// (SSH_AUTH_SOCK), "none" for no agent, or a socket path.
	IdentityAgent string
	// IdentitiesOnly offers only IdentityFiles and CertificateFiles, even
	// when the agent holds other keys.
	IdentitiesOnly bool
	ConnectTimeout time.Duration
	// ServerAliveInterval is the keepalive period; 0 keeps the default.
	ServerAliveInterval time.Duration
	Become              string // none | sudo | doas
	// BecomeUser is who become runs commands as ("" for root): Ansible's
	// become_user, e.g. the agent's run-as user.
	BecomeUser   string
	SudoPassword SecretRef

	Claim Claim

	// Sources tells, per setting name, where its value came from
	// ("inventory.yml:12 (group web)", "defaults", "--set", "ssh_config").
	Sources map[string]string
}

// Endpoint is one SSH hop.
type Endpoint struct {
	User    string `json:"user,omitempty"`
	Address string `json:"address"`
	Port    int    `json:"port"`
}

func (e Endpoint) String() string {
	s := e.Address
	if strings.Contains(s, ":") {
		s = "[" + s + "]"
	}
	if e.Port != 0 && e.Port != 22 {
		s = fmt.Sprintf("%s:%d", s, e.Port)
	}
	if e.User != "" {
		s = e.User + "@" + s
	}
	return s
}

// Claim holds the settings that decide how a host is claimed.
type Claim struct {
	URL   string
	Token SecretRef
	// Rooms are room ids (lowercase UUIDs) or room names; names are
	// turned into ids by ResolveRoomNames before a run.
	Rooms []string
	// Space is the Netdata Cloud Space (name or id) the Cloud API is asked
	// about; empty: the only Space the API token sees.
	Space string
	// APIToken is the source of the Cloud API token (never inline).
	APIToken SecretRef
	// APIInsecure accepts, by name, that the API token travels over an
	// http url or to a server whose certificate is not verified (insecure);
	// without it the Cloud API is not used for such a url.
	APIInsecure bool
	// Proxy is "none", "env" or a proxy URL; unset leaves the agent's own
	// setting. Its credentials are a secret (see Proxy).
	Proxy    Proxy
	Insecure bool
	// CAFile is a local PEM file installed on the host in cloud.d (trusted.pem
	// on v2, cloud_fullchain.pem on v1), for the claim request.
	CAFile          string
	Method          string // auto | claim-conf | claim-script | kickstart | docker
	DockerContainer string
	// NetdataPrefix pins the agent search to one install prefix (the
	// directory that holds opt/netdata, etc/netdata, …).
	NetdataPrefix string
	// Hostname overrides the node name the agent reports to Cloud.
	Hostname  string
	Kickstart Kickstart
	// Ephemeral, when set, is netdata.conf's [global] is ephemeral node.
	Ephemeral *bool
	// Labels are netdata.conf [host labels] to set, in inventory order.
	Labels []Label
}

// Kickstart holds the install options used when a host has no claimable agent.
type Kickstart struct {
	Channel          string // stable | nightly
	StaticOnly       bool
	NativeOnly       bool
	ScriptFile       string // local copy pushed to the host
	ScriptSHA256     string
	OfflineBundle    string // directory made by --prepare-offline-install-source
	AllowReinstall   bool
	DisableTelemetry bool
}

// SecretRef says where a secret is read from. It never holds the secret
// itself except for an inline value, which the inventory warns about.
type SecretRef struct {
	Env    string `json:"env,omitempty"`
	File   string `json:"file,omitempty"`
	Inline string `json:"-"`
}

// IsZero reports whether no source is set.
func (r SecretRef) IsZero() bool { return r.Env == "" && r.File == "" && r.Inline == "" }

// String describes the source without the secret.
func (r SecretRef) String() string {
	switch {
	case r.Inline != "":
		return "inline (redacted)"
	case r.File != "":
		return "file " + r.File
	case r.Env != "":
		return "env " + r.Env
	}
	return "none"
}

// Resolve reads the secret. lookup is os.LookupEnv in production.
func (r SecretRef) Resolve(lookup func(string) (string, bool)) (Secret, error) {
	switch {
	case r.Inline != "":
		return NewSecret(r.Inline), nil
	case r.File != "":
		b, err := os.ReadFile(r.File)
		if err != nil {
			return Secret{}, fmt.Errorf("secret file: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return Secret{}, fmt.Errorf("secret file %s is empty", r.File)
		}
		return NewSecret(v), nil
	case r.Env != "":
		v, ok := lookup(r.Env)
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return Secret{}, fmt.Errorf("environment variable %s is not set", r.Env)
		}
		return NewSecret(v), nil
	}
	return Secret{}, fmt.Errorf("no secret source configured")
}

// Secret is a value that must never be printed: every formatting path shows
// it redacted; only Reveal gives the value. The value sits behind a pointer:
// fmt prints a Secret held in an unexported field by reflection, without
// its methods, and then shows an address, not the value.
type Secret struct{ v *string }

// redacted is what every output shows of a Secret.
const redacted = "[REDACTED]"

// NewSecret wraps v.
func NewSecret(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{v: &v}
}

// Reveal returns the secret itself, for the one place that must send it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == nil }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// Format prints the redaction for every verb of fmt: without it, verbs that
// do not use String (%d, %t) print the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(redacted))
		return
	}
	fmt.Fprint(f, redacted)
}

// MarshalJSON keeps secrets out of every JSON document.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText keeps secrets out of YAML and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
