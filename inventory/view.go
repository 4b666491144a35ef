package inventory

import (
	"strings"
)

// HostView is a host's effective settings as `fleetclaim inventory list`
// prints them: every setting, with the place each came from ("default" when
// nothing set it). Secrets appear only as their source.
type HostView struct {
	Name                string            `json:"name"`
	Groups              []string          `json:"groups"`
	Address             string            `json:"address"`
	Port                int               `json:"port"`
	User                string            `json:"user"`
	IdentityFiles       []string          `json:"identity_files"`
	Jump                string            `json:"jump"`
	KnownHosts          []string          `json:"known_hosts"`
	HostKeyPolicy       string            `json:"host_key_policy"`
	HostKeyAlias        string            `json:"host_key_alias,omitempty"`
	HashKnownHosts      bool              `json:"hash_known_hosts,omitempty"`
	ProxyCommand        string            `json:"proxy_command,omitempty"`
	CertificateFiles    []string          `json:"certificate_files,omitempty"`
	IdentityAgent       string            `json:"identity_agent,omitempty"`
	IdentitiesOnly      bool              `json:"identities_only,omitempty"`
	ConnectTimeout      string            `json:"connect_timeout"`
	ServerAliveInterval string            `json:"server_alive_interval"`
	Become              string            `json:"become"`
	BecomeUser          string            `json:"become_user,omitempty"`
	SudoPassword        string            `json:"sudo_password"`
	URL                 string            `json:"url"`
	Token               string            `json:"token"`
	Rooms               []string          `json:"rooms"`
	Proxy               string            `json:"proxy"`
	Insecure            bool              `json:"insecure"`
	CAFile              string            `json:"ca_file"`
	Method              string            `json:"method"`
	DockerContainer     string            `json:"docker_container"`
	NetdataPrefix       string            `json:"netdata_prefix"`
	Hostname            string            `json:"hostname"`
	Kickstart           KickstartView     `json:"kickstart"`
	Space               string            `json:"space"`
	APIToken            string            `json:"api_token"`
	APIInsecure         bool              `json:"api_insecure"`
	Ephemeral           *bool             `json:"ephemeral,omitempty"`
	Labels              []Label           `json:"labels,omitempty"`
	Sources             map[string]string `json:"sources"`
}

// KickstartView is Kickstart with JSON names.
type KickstartView struct {
	Channel          string `json:"channel"`
	StaticOnly       bool   `json:"static_only"`
	NativeOnly       bool   `json:"native_only"`
	ScriptFile       string `json:"script_file"`
	ScriptSHA256     string `json:"script_sha256"`
	OfflineBundle    string `json:"offline_bundle"`
	AllowReinstall   bool   `json:"allow_reinstall"`
	DisableTelemetry bool   `json:"disable_telemetry"`
}

// View returns h's settings for printing.
func (h *Host) View() HostView {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	v := HostView{
		Name:                h.Name,
		Groups:              nz(h.Groups),
		Address:             h.Address,
		Port:                h.Port,
		User:                h.User,
		IdentityFiles:       nz(h.IdentityFiles),
		Jump:                jumpString(h.Jump),
		KnownHosts:          nz(h.KnownHosts),
		HostKeyPolicy:       h.HostKeyPolicy,
		HostKeyAlias:        h.HostKeyAlias,
		HashKnownHosts:      h.HashKnownHosts,
		ProxyCommand:        h.ProxyCommand,
		CertificateFiles:    h.CertificateFiles,
		IdentityAgent:       h.IdentityAgent,
		IdentitiesOnly:      h.IdentitiesOnly,
		ConnectTimeout:      h.ConnectTimeout.String(),
		ServerAliveInterval: h.ServerAliveInterval.String(),
		Become:              h.Become,
		BecomeUser:          h.BecomeUser,
		SudoPassword:        h.SudoPassword.String(),
		URL:                 h.Claim.URL,
		Token:               h.Claim.Token.String(),
		Rooms:               nz(h.Claim.Rooms),
		Proxy:               h.Claim.Proxy.String(),
		Insecure:            h.Claim.Insecure,
		CAFile:              h.Claim.CAFile,
		Method:              h.Claim.Method,
		DockerContainer:     h.Claim.DockerContainer,
		NetdataPrefix:       h.Claim.NetdataPrefix,
		Hostname:            h.Claim.Hostname,
		Kickstart: KickstartView{
			Channel:          h.Claim.Kickstart.Channel,
			StaticOnly:       h.Claim.Kickstart.StaticOnly,
			NativeOnly:       h.Claim.Kickstart.NativeOnly,
			ScriptFile:       h.Claim.Kickstart.ScriptFile,
			ScriptSHA256:     h.Claim.Kickstart.ScriptSHA256,
			OfflineBundle:    h.Claim.Kickstart.OfflineBundle,
			AllowReinstall:   h.Claim.Kickstart.AllowReinstall,
			DisableTelemetry: h.Claim.Kickstart.DisableTelemetry,
		},
		Space:       h.Claim.Space,
		APIToken:    h.Claim.APIToken.String(),
		APIInsecure: h.Claim.APIInsecure,
		Ephemeral:   h.Claim.Ephemeral,
		Labels:      h.Claim.Labels,
		Sources:     make(map[string]string, nSlots),
	}
	for s, name := range slotNames {
		src, ok := h.Sources[name]
		if !ok && slot(s) >= sHostKeyAlias {
			continue // the SSH settings added later are listed when set
		}
		if !ok {
			src = "default"
			if name == "address" {
				src = "host name"
			}
		}
		v.Sources[name] = src
	}
	return v
}

// Setting is one line of a host's long listing.
type Setting struct {
	Key, Value, Source string
}

// Settings lists h's effective settings in documentation order, secrets
// redacted, each with its source.
func (h *Host) Settings() []Setting {
	v := h.View()
	vals := [nSlots]string{
		sAddress: v.Address, sPort: itoa(v.Port), sUser: v.User,
		sIdentityFiles: strings.Join(v.IdentityFiles, ", "), sJump: v.Jump,
		sKnownHosts: strings.Join(v.KnownHosts, ", "), sHostKeyPolicy: v.HostKeyPolicy,
		sConnectTimeout: v.ConnectTimeout, sServerAliveInterval: v.ServerAliveInterval,
		sBecome: v.Become, sBecomeUser: v.BecomeUser, sSudoPassword: v.SudoPassword, sURL: v.URL, sToken: v.Token,
		sRooms: strings.Join(v.Rooms, ", "), sProxy: v.Proxy, sInsecure: boolString(v.Insecure),
		sCAFile: v.CAFile, sMethod: v.Method, sDockerContainer: v.DockerContainer,
		sNetdataPrefix: v.NetdataPrefix, sHostname: v.Hostname,
		sKsChannel: v.Kickstart.Channel, sKsStaticOnly: boolString(v.Kickstart.StaticOnly),
		sKsNativeOnly: boolString(v.Kickstart.NativeOnly), sKsScriptFile: v.Kickstart.ScriptFile,
		sKsScriptSHA256: v.Kickstart.ScriptSHA256, sKsOfflineBundle: v.Kickstart.OfflineBundle,
		sKsAllowReinstall: boolString(v.Kickstart.AllowReinstall), sKsDisableTelemetry: boolString(v.Kickstart.DisableTelemetry),
		sSpace: v.Space, sAPIToken: v.APIToken, sAPIInsecure: boolString(v.APIInsecure),
		sHostKeyAlias: v.HostKeyAlias, sHashKnownHosts: boolString(v.HashKnownHosts), sProxyCommand: v.ProxyCommand,
		sCertificateFiles: strings.Join(v.CertificateFiles, ", "), sIdentityAgent: v.IdentityAgent,
		sIdentitiesOnly: boolString(v.IdentitiesOnly),
		sEphemeral:      optBool(v.Ephemeral), sLabels: labelsString(v.Labels),
	}
	out := make([]Setting, 0, nSlots)
	for s, name := range slotNames {
		src, ok := v.Sources[name]
		if !ok {
			continue
		}
		out = append(out, Setting{Key: name, Value: vals[s], Source: src})
	}
	return out
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
