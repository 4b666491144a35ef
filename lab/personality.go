package lab

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// AgentKind is the generation of the simulated Netdata Agent on a lab host.
type AgentKind string

// The agent kinds a lab host can have.
const (
	// KindV2 is a v2 agent: netdata-claim.sh is the POSIX wrapper that writes
	// claim.conf and the daemon claims on `netdatacli reload-claiming-state`.
	KindV2 AgentKind = "v2"
	// KindV1 is a pre-2.0 agent: netdata-claim.sh itself talks to Cloud, the
	// node id is the machine GUID, and failures are reported by exit code.
	KindV1 AgentKind = "v1"
	// KindNoCloud is an agent built without Cloud support (like Debian's own
	// package): it can never be claimed.
	KindNoCloud AgentKind = "nocloud"
	// KindNone is a host without any Netdata installed. The lab's
	// kickstart.sh (DIR/kickstart.sh) installs a v2 agent on it.
	KindNone AgentKind = "none"
	// KindDocker is a host without an agent of its own but with a `docker`
	// command (a stand-in on the host's PATH) and one running container,
	// "netdata" from the netdata/netdata image, whose agent is a v2 agent
	// with the image's native layout.
	KindDocker AgentKind = "docker"
	// KindDistro is a distribution's own package built without Cloud (like
	// Debian's netdata 1.37.1): native layout (/etc/netdata, /usr/sbin,
	// /var/lib/netdata under the prefix), no .install-type.
	KindDistro AgentKind = "distro"
)

// agentKind is how the host's agent behaves: a container's agent and the
// agent kickstart installs on a bare host are v2 agents, a distribution
// package without Cloud behaves like any agent without Cloud.
func (k AgentKind) agentKind() AgentKind {
	switch k {
	case KindDocker, KindNone:
		return KindV2
	case KindDistro:
		return KindNoCloud
	}
	return k
}

// defaultVersion is the version each kind reports unless a personality says otherwise.
func (k AgentKind) defaultVersion() string {
	switch k {
	case KindV1:
		return "1.44.3"
	case KindNoCloud, KindDistro:
		return "1.37.1"
	case KindNone:
		return ""
	default:
		return "2.7.1"
	}
}

// Fault names a way a lab host misbehaves. Faults are the seam for fleetclaim's
// reliability tests: each one is injected at one well-defined point (the TCP
// accept, the SSH handshake, an exec, the agent's claim, the lab Cloud's answer).
type Fault string

// The faults the lab knows. A personality may carry several.
const (
	// FaultAgentStopped: the agent is not running when the lab starts.
	FaultAgentStopped Fault = "agent-stopped"
	// FaultSSHRefuse: nothing listens on the host's port (connection refused).
	FaultSSHRefuse Fault = "ssh-refuse"
	// FaultSSHSilent: the host accepts TCP and never says anything.
	FaultSSHSilent Fault = "ssh-silent"
	// FaultSSHStall: the host sends its SSH version and then stalls the handshake.
	FaultSSHStall Fault = "ssh-stall"
	// FaultSSHDrop: the connection is dropped when the claim command runs.
	FaultSSHDrop Fault = "ssh-drop"
	// FaultHostKeyChanged: the host presents a key that is not in known_hosts.
	FaultHostKeyChanged Fault = "hostkey-changed"
	// FaultAuthReject: the host rejects the lab client key.
	FaultAuthReject Fault = "auth-reject"
	// FaultClaimHang: `netdatacli reload-claiming-state` never answers,
	// and a v1 agent's netdata-claim.sh never returns (its request to
	// Cloud stalls).
	FaultClaimHang Fault = "claim-hang"
	// FaultCloud403 .. FaultCloudSlow: how the lab Cloud answers this host's claim.
	FaultCloud403  Fault = "cloud-403"
	FaultCloud409  Fault = "cloud-409"
	FaultCloud422  Fault = "cloud-422"
	FaultCloud500  Fault = "cloud-500"
	FaultCloud503  Fault = "cloud-503"
	FaultCloud504  Fault = "cloud-504"
	FaultCloud102  Fault = "cloud-processing"
	FaultCloudSlow Fault = "cloud-slow"
	// FaultOffline: the claim succeeds but the agent never gets online.
	FaultOffline Fault = "offline"
	// FaultViaParent: the agent streams to a claimed parent and its own
	// link never gets online (it reaches Cloud only through the parent):
	// its Cloud status is "indirect" whether or not it is claimed itself
	// (netdata v2.11.0 src/claim/cloud-status.c:21-36).
	FaultViaParent Fault = "via-parent"
)

// KnownFaults lists every Fault the lab can inject.
func KnownFaults() []Fault {
	return []Fault{
		FaultAgentStopped, FaultSSHRefuse, FaultSSHSilent, FaultSSHStall, FaultSSHDrop,
		FaultHostKeyChanged, FaultAuthReject, FaultClaimHang,
		FaultCloud403, FaultCloud409, FaultCloud422, FaultCloud500, FaultCloud503, FaultCloud504,
		FaultCloud102, FaultCloudSlow, FaultOffline, FaultNoSudo, FaultDiskFull, FaultFlaky,
		FaultSessionStall, FaultExecStall, FaultCloudHostile, FaultViaParent,
	}
}

// Personality is what a lab host is: which agent it runs and how it misbehaves.
type Personality struct {
	Kind    AgentKind `json:"kind"`
	Version string    `json:"version,omitempty"`
	Faults  []Fault   `json:"faults,omitempty"`
	// Login is how fleetclaim logs in and gains privilege on the host
	// ("" for the lab's own user; see Login). Spec: "+sudo", "+doas", ...
	Login Login `json:"login,omitempty"`
	// CloneGroup, when not 0, makes the host a clone: every host of the
	// same group starts with the same machine GUID (a VM image copied
	// with its agent's identity). Spec: "+cloned"; each spec entry with
	// it is its own group.
	CloneGroup int `json:"clone_group,omitempty"`
}

// DefaultPersonality is a healthy, current v2 agent.
func DefaultPersonality() Personality {
	return Personality{Kind: KindV2, Version: KindV2.defaultVersion()}
}

// Has reports whether the personality carries fault f.
func (p Personality) Has(f Fault) bool { return slices.Contains(p.Faults, f) }

// String renders the personality in the spec syntax ParsePersonalities reads.
func (p Personality) String() string {
	var b strings.Builder
	b.WriteString(string(p.Kind))
	if p.Version != "" && p.Version != p.Kind.defaultVersion() {
		b.WriteString(":" + p.Version)
	}
	for _, f := range p.Faults {
		b.WriteString("+" + string(f))
	}
	if p.Login != "" {
		b.WriteString("+" + string(p.Login))
	}
	if p.CloneGroup != 0 {
		b.WriteString("+" + cloneModifier)
	}
	return b.String()
}

// PersonalityCount is one entry of a personality spec: Count hosts get Personality.
type PersonalityCount struct {
	Personality Personality
	Count       int
}

// cloneModifier marks a spec entry whose hosts share one machine GUID.
const cloneModifier = "cloned"

// ParsePersonalities reads a spec like "v1=2,nocloud=1,none=1,v2:2.5.0+cloud-503=3".
// Each entry is KIND[:VERSION][+FAULT...][+cloned]=COUNT; hosts not covered
// by the spec are healthy v2 agents. An empty spec means every host is a
// default v2 agent. The hosts of one entry with +cloned share one machine
// GUID (entries are separate clone groups).
func ParsePersonalities(spec string) ([]PersonalityCount, error) {
	var out []PersonalityCount
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		lhs, countText, ok := strings.Cut(entry, "=")
		if !ok {
			countText = "1"
		}
		count, err := strconv.Atoi(strings.TrimSpace(countText))
		if err != nil || count < 0 {
			return nil, fmt.Errorf("personality %q: count %q is not a non-negative number", entry, countText)
		}
		p, err := parsePersonality(strings.TrimSpace(lhs))
		if err != nil {
			return nil, fmt.Errorf("personality %q: %w", entry, err)
		}
		if p.CloneGroup != 0 {
			p.CloneGroup = len(out) + 1
		}
		out = append(out, PersonalityCount{Personality: p, Count: count})
	}
	return out, nil
}

func parsePersonality(s string) (Personality, error) {
	parts := strings.Split(s, "+")
	kindText, version, _ := strings.Cut(parts[0], ":")
	kind := AgentKind(kindText)
	switch kind {
	case KindV2, KindV1, KindNoCloud, KindNone, KindDocker, KindDistro:
	case "":
		kind = KindV2
	default:
		return Personality{}, fmt.Errorf("unknown agent kind %q (want v2, v1, nocloud, distro, docker or none)", kindText)
	}
	if version == "" {
		version = kind.defaultVersion()
	}
	version = strings.TrimPrefix(version, "v")
	p := Personality{Kind: kind, Version: version}
	for _, f := range parts[1:] {
		if f == cloneModifier {
			if kind == KindNone {
				return Personality{}, fmt.Errorf("a host without an agent has no machine GUID to clone")
			}
			p.CloneGroup = -1 // numbered by ParsePersonalities
			continue
		}
		if l := Login(f); slices.Contains(knownLogins(), l) {
			if p.Login != "" {
				return Personality{}, fmt.Errorf("two login kinds, %s and %s", p.Login, l)
			}
			p.Login = l
			continue
		}
		fault := Fault(f)
		if known := KnownFaults(); !slices.Contains(known, fault) {
			names := make([]string, len(known))
			for i, k := range known {
				names[i] = string(k)
			}
			return Personality{}, fmt.Errorf("unknown fault %q (known: %s)", f, strings.Join(names, ", "))
		}
		p.Faults = append(p.Faults, fault)
	}
	if p.Login != "" && p.Has(FaultNoSudo) {
		return Personality{}, fmt.Errorf("login kind %s does not go with fault no-sudo", p.Login)
	}
	return p, nil
}

// assignPersonalities gives each of n hosts a personality: the spec's entries
// are placed on hosts picked by a permutation seeded from the lab's secret, so
// special hosts are spread over the groups and the same lab always gets the
// same assignment.
func assignPersonalities(n int, spec []PersonalityCount, seed [32]byte) ([]Personality, error) {
	total := 0
	for _, pc := range spec {
		total += pc.Count
	}
	if total > n {
		return nil, fmt.Errorf("personalities cover %d hosts but the lab has only %d", total, n)
	}
	out := make([]Personality, n)
	for i := range out {
		out[i] = DefaultPersonality()
	}
	var s1, s2 uint64
	for i := range 8 {
		s1 = s1<<8 | uint64(seed[i])
		s2 = s2<<8 | uint64(seed[8+i])
	}
	perm := rand.New(rand.NewPCG(s1, s2)).Perm(n)
	k := 0
	for _, pc := range spec {
		for range pc.Count {
			out[perm[k]] = pc.Personality
			k++
		}
	}
	return out, nil
}
