package inventory

import (
	"sort"
	"strings"
)

// slot is one logical setting. Several keys can feed one slot: token,
// token_file and token_env are three ways of naming the single token source.
type slot uint8

const (
	sAddress slot = iota
	sPort
	sUser
	sIdentityFiles
	sJump
	sKnownHosts
	sHostKeyPolicy
	sConnectTimeout
	sServerAliveInterval
	sBecome
	sBecomeUser
	sSudoPassword
	sURL
	sToken
	sRooms
	sProxy
	sInsecure
	sCAFile
	sMethod
	sDockerContainer
	sNetdataPrefix
	sHostname
	sKsChannel
	sKsStaticOnly
	sKsNativeOnly
	sKsScriptFile
	sKsScriptSHA256
	sKsOfflineBundle
	sKsAllowReinstall
	sKsDisableTelemetry
	sSpace
	sAPIToken
	sAPIInsecure
	sHostKeyAlias
	sProxyCommand
	sCertificateFiles
	sIdentityAgent
	sIdentitiesOnly
	sHashKnownHosts
	sEphemeral
	sLabels
	nSlots
)

// kind is how a key's value is parsed and checked.
type kind uint8

const (
	kString     kind = iota // any non-empty string
	kAddress                // host name or IP, optionally with :port
	kPort                   // 1..65535
	kLocalPath              // a path on this machine: ~ and relative paths resolved
	kLocalPaths             // a list of local paths (a single string accepted)
	kRemotePath             // an absolute path on the host
	kBool                   // true/false (yes/no accepted)
	kDuration               // Go duration or plain seconds
	kEnum                   // one of keyDef.enum
	kURL                    // http(s) URL
	kProxy                  // none | env | proxy URL
	kRooms                  // list of room UUIDs or names (comma-separated string accepted)
	kJump                   // ProxyJump syntax, or a list of hops
	kEnvName                // environment variable name
	kSHA256                 // 64 hex digits
	kSecret                 // inline secret, redacted everywhere
	kNoInline               // a secret that must never be written inline: always an error
	kUser                   // a login user name
	kNodeName               // a node name (hostname override)
	kContainer              // a Docker container name or id
	kUserName               // a POSIX user name (what sudo -u and doas -u accept)
	kLabels                 // host labels: a mapping of name: value ("n=v,n2=v2" accepted)
)

// keyDef describes one setting key.
type keyDef struct {
	name string
	slot slot
	kind kind
	enum []string
}

// keyTable lists every setting key in documentation order. Read-only.
var keyTable = []keyDef{
	{name: "address", slot: sAddress, kind: kAddress},
	{name: "port", slot: sPort, kind: kPort},
	{name: "user", slot: sUser, kind: kUser},
	{name: "identity_files", slot: sIdentityFiles, kind: kLocalPaths},
	{name: "jump", slot: sJump, kind: kJump},
	{name: "known_hosts", slot: sKnownHosts, kind: kLocalPaths},
	{name: "host_key_policy", slot: sHostKeyPolicy, kind: kEnum, enum: []string{"strict", "accept-new", "off"}},
	{name: "host_key_alias", slot: sHostKeyAlias, kind: kString},
	{name: "hash_known_hosts", slot: sHashKnownHosts, kind: kBool},
	{name: "proxy_command", slot: sProxyCommand, kind: kString},
	{name: "certificate_files", slot: sCertificateFiles, kind: kLocalPaths},
	{name: "identity_agent", slot: sIdentityAgent, kind: kString},
	{name: "identities_only", slot: sIdentitiesOnly, kind: kBool},
	{name: "connect_timeout", slot: sConnectTimeout, kind: kDuration},
	{name: "server_alive_interval", slot: sServerAliveInterval, kind: kDuration},
	{name: "become", slot: sBecome, kind: kEnum, enum: []string{"none", "sudo", "doas"}},
	{name: "become_user", slot: sBecomeUser, kind: kUserName},
	{name: "sudo_password_env", slot: sSudoPassword, kind: kEnvName},
	{name: "sudo_password_file", slot: sSudoPassword, kind: kLocalPath},
	{name: "sudo_password", slot: sSudoPassword, kind: kSecret},
	{name: "url", slot: sURL, kind: kURL},
	{name: "token_env", slot: sToken, kind: kEnvName},
	{name: "token_file", slot: sToken, kind: kLocalPath},
	{name: "token", slot: sToken, kind: kSecret},
	{name: "rooms", slot: sRooms, kind: kRooms},
	{name: "proxy", slot: sProxy, kind: kProxy},
	{name: "insecure", slot: sInsecure, kind: kBool},
	{name: "ca_file", slot: sCAFile, kind: kLocalPath},
	{name: "method", slot: sMethod, kind: kEnum, enum: []string{"auto", "claim-conf", "claim-script", "kickstart", "docker"}},
	{name: "docker_container", slot: sDockerContainer, kind: kContainer},
	{name: "netdata_prefix", slot: sNetdataPrefix, kind: kRemotePath},
	{name: "hostname", slot: sHostname, kind: kNodeName},
	{name: "kickstart.channel", slot: sKsChannel, kind: kEnum, enum: []string{"stable", "nightly"}},
	{name: "kickstart.static_only", slot: sKsStaticOnly, kind: kBool},
	{name: "kickstart.native_only", slot: sKsNativeOnly, kind: kBool},
	{name: "kickstart.script_file", slot: sKsScriptFile, kind: kLocalPath},
	{name: "kickstart.script_sha256", slot: sKsScriptSHA256, kind: kSHA256},
	{name: "kickstart.offline_bundle", slot: sKsOfflineBundle, kind: kLocalPath},
	{name: "kickstart.allow_reinstall", slot: sKsAllowReinstall, kind: kBool},
	{name: "kickstart.disable_telemetry", slot: sKsDisableTelemetry, kind: kBool},
	{name: "space", slot: sSpace, kind: kString},
	{name: "api_token_env", slot: sAPIToken, kind: kEnvName},
	{name: "api_token_file", slot: sAPIToken, kind: kLocalPath},
	{name: "api_token", slot: sAPIToken, kind: kNoInline},
	{name: "api_insecure", slot: sAPIInsecure, kind: kBool},
	{name: "ephemeral", slot: sEphemeral, kind: kBool},
	{name: "labels", slot: sLabels, kind: kLabels},
}

// keyIndex maps a key name to its index in keyTable. Read-only after init.
var keyIndex = func() map[string]int {
	m := make(map[string]int, len(keyTable))
	for i, k := range keyTable {
		m[k.name] = i
	}
	return m
}()

// slotNames is the name used for a slot in Sources and in diagnostics.
var slotNames = [nSlots]string{
	sAddress: "address", sPort: "port", sUser: "user", sIdentityFiles: "identity_files",
	sJump: "jump", sKnownHosts: "known_hosts", sHostKeyPolicy: "host_key_policy",
	sConnectTimeout: "connect_timeout", sServerAliveInterval: "server_alive_interval",
	sBecome: "become", sBecomeUser: "become_user", sSudoPassword: "sudo_password", sURL: "url", sToken: "token",
	sRooms: "rooms", sProxy: "proxy", sInsecure: "insecure", sCAFile: "ca_file",
	sMethod: "method", sDockerContainer: "docker_container", sNetdataPrefix: "netdata_prefix",
	sHostname: "hostname", sKsChannel: "kickstart.channel", sKsStaticOnly: "kickstart.static_only",
	sKsNativeOnly: "kickstart.native_only", sKsScriptFile: "kickstart.script_file",
	sKsScriptSHA256: "kickstart.script_sha256", sKsOfflineBundle: "kickstart.offline_bundle",
	sKsAllowReinstall: "kickstart.allow_reinstall", sKsDisableTelemetry: "kickstart.disable_telemetry",
	sSpace: "space", sAPIToken: "api_token", sAPIInsecure: "api_insecure",
	sHostKeyAlias: "host_key_alias", sProxyCommand: "proxy_command", sCertificateFiles: "certificate_files",
	sIdentityAgent: "identity_agent", sIdentitiesOnly: "identities_only", sHashKnownHosts: "hash_known_hosts",
	sEphemeral: "ephemeral", sLabels: "labels",
}

// SettingKeys returns every setting key fleetclaim understands, in
// documentation order (kickstart sub-keys as "kickstart.NAME").
func SettingKeys() []string {
	out := make([]string, len(keyTable))
	for i, k := range keyTable {
		out[i] = k.name
	}
	return out
}

// suggest returns the candidate closest to s, or "" when none is close.
func suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(ls, strings.ToLower(c))
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := len(s)/3 + 1
	if limit > 4 {
		limit = 4
	}
	if bestD <= limit {
		return best
	}
	// A prefix or suffix match ("identity" → "identity_files") also counts.
	for _, c := range candidates {
		if len(s) >= 4 && (strings.HasPrefix(c, ls) || strings.HasSuffix(c, ls)) {
			return c
		}
	}
	return ""
}

// didYouMean formats a suggestion for an error message.
func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return " (did you mean " + quote(c) + "?)"
	}
	return ""
}

func quote(s string) string { return "\"" + s + "\"" }

// editDistance is the optimal-string-alignment distance of a and b (a
// transposition counts as one edit), bounded to keep pathological inputs
// cheap.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	w := len(b) + 1
	d := make([]int, (len(a)+1)*w)
	for i := 0; i <= len(a); i++ {
		d[i*w] = i
	}
	for j := 0; j <= len(b); j++ {
		d[j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(d[(i-1)*w+j]+1, d[i*w+j-1]+1, d[(i-1)*w+j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, d[(i-2)*w+j-2]+1)
			}
			d[i*w+j] = v
		}
	}
	return d[len(a)*w+len(b)]
}

// settingKeyNames is keyTable's names plus "kickstart", for suggestions at
// the top level of a settings mapping.
var settingKeyNames = func() []string {
	out := SettingKeys()
	out = append(out, "kickstart")
	sort.Strings(out)
	return out
}()

// kickstartSubKeys are the keys of the kickstart mapping.
var kickstartSubKeys = func() []string {
	var out []string
	for _, k := range keyTable {
		if sub, ok := strings.CutPrefix(k.name, "kickstart."); ok {
			out = append(out, sub)
		}
	}
	return out
}()
