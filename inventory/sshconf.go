package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"github.com/kevinburke/ssh_config"
	"gopkg.in/yaml.v3"
)

// sshConf is an ssh_config file applied beneath the inventory.
type sshConf struct {
	cfg     *ssh_config.Config
	display string // the path as shown in Sources ("~/.ssh/config")
	file    string
}

// sshKeys maps ssh_config keywords (lower case) to slots.
var sshKeys = map[string]slot{
	"hostname":              sAddress,
	"port":                  sPort,
	"user":                  sUser,
	"identityfile":          sIdentityFiles,
	"proxyjump":             sJump,
	"userknownhostsfile":    sKnownHosts,
	"stricthostkeychecking": sHostKeyPolicy,
	"connecttimeout":        sConnectTimeout,
	"serveraliveinterval":   sServerAliveInterval,
}

func (l *loader) loadSSHConfig() {
	path := l.opts.SSHConfig
	if path == "none" {
		return
	}
	explicit := path != ""
	if !explicit {
		if l.home == "" {
			return
		}
		path = filepath.Join(l.home, ".ssh", "config")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if explicit || !os.IsNotExist(err) {
			l.errorf(path, 0, 0, "ssh_config", "cannot read: %v", unwrapPathError(err))
		}
		return
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		l.checkNUL(path, data)
		return
	}
	cfg, err := ssh_config.DecodeBytes(data)
	if err != nil {
		l.errorf(path, 0, 0, "ssh_config", "%v", err)
		return
	}
	display := path
	if l.home != "" {
		if rest, ok := strings.CutPrefix(path, l.home+"/"); ok {
			display = "~/" + rest
		}
	}
	l.ssh = &sshConf{cfg: cfg, display: display, file: path}
}

type sshHit struct {
	value     string
	line, col int
}

// apply fills the SSH slots the inventory left unset from the first
// matching ssh_config value (IdentityFile: every matching value), as ssh does.
func (s *sshConf) apply(l *loader, h *hostRec, eff *[nSlots]*val) {
	need := false
	for _, sl := range sshKeys {
		if eff[sl] == nil {
			need = true
			break
		}
	}
	if !need {
		return
	}
	alias := h.addr
	var hits [nSlots][]sshHit
	for _, blk := range s.cfg.Hosts {
		if !blk.Matches(alias) {
			continue
		}
		for _, node := range blk.Nodes {
			switch t := node.(type) {
			case *ssh_config.KV:
				sl, ok := sshKeys[strings.ToLower(t.Key)]
				if !ok || eff[sl] != nil || (len(hits[sl]) > 0 && sl != sIdentityFiles) {
					continue
				}
				p := t.Pos()
				hits[sl] = append(hits[sl], sshHit{t.Value, p.Line, p.Col})
			case *ssh_config.Include:
				p := t.Pos()
				for kw, sl := range sshKeys {
					if eff[sl] != nil || len(hits[sl]) > 0 {
						continue
					}
					if v := t.Get(alias, kw); v != "" {
						hits[sl] = append(hits[sl], sshHit{v, p.Line, p.Col})
					}
				}
			}
		}
	}
	for sl := slot(0); sl < nSlots; sl++ {
		hs := hits[sl]
		if len(hs) == 0 {
			continue
		}
		where := s.display
		items := make([]string, 0, len(hs))
		for _, hit := range hs {
			items = append(items, s.expand(l, h, eff, sl, hit.value))
		}
		var node *yaml.Node
		switch sl {
		case sIdentityFiles:
			node = &yaml.Node{Kind: yaml.SequenceNode, Line: hs[0].line, Column: hs[0].col}
			for _, it := range items {
				node.Content = append(node.Content, scalarNode(it, hs[0].line, hs[0].col))
			}
		case sKnownHosts:
			node = &yaml.Node{Kind: yaml.SequenceNode, Line: hs[0].line, Column: hs[0].col}
			for f := range strings.FieldsSeq(items[0]) {
				node.Content = append(node.Content, scalarNode(f, hs[0].line, hs[0].col))
			}
		case sHostKeyPolicy:
			p := "strict"
			switch strings.ToLower(items[0]) {
			case "accept-new":
				p = "accept-new"
			case "no", "off":
				p = "off"
			}
			node = scalarNode(p, hs[0].line, hs[0].col)
		default:
			node = scalarNode(items[0], hs[0].line, hs[0].col)
		}
		ki := sshKeyIndex[sl]
		before := len(l.errs)
		v, ok := l.conv.parse(ki, node, s.display, "ssh_config "+slotNames[sl], "")
		if !ok {
			// One bad ssh_config line must not repeat for every host.
			l.errs = append(l.errs[:before], dedupe(l.errs[before:])...)
			continue
		}
		v.src = "ssh_config " + where + ":" + itoa(hs[0].line)
		if sl == sAddress && v.n != 0 && eff[sPort] == nil && len(hits[sPort]) == 0 {
			pv := v
			pv.slot, pv.key, pv.s = sPort, int16(keyIndex["port"]), ""
			eff[sPort] = &pv
		}
		eff[sl] = &v
	}
}

// sshKeyIndex is the keyTable index used to check a value from ssh_config.
var sshKeyIndex = [nSlots]int{
	sAddress: keyIndex["address"], sPort: keyIndex["port"], sUser: keyIndex["user"],
	sIdentityFiles: keyIndex["identity_files"], sJump: keyIndex["jump"], sKnownHosts: keyIndex["known_hosts"],
	sHostKeyPolicy: keyIndex["host_key_policy"], sConnectTimeout: keyIndex["connect_timeout"],
	sServerAliveInterval: keyIndex["server_alive_interval"],
}

// expand applies the ssh_config tokens fleetclaim knows (%h %d %u %r %%).
func (s *sshConf) expand(l *loader, h *hostRec, eff *[nSlots]*val, sl slot, v string) string {
	if sl == sIdentityFiles || sl == sKnownHosts {
		if !strings.HasPrefix(v, "~") && !filepath.IsAbs(v) && !strings.HasPrefix(v, "%d") {
			v = filepath.Join(l.home, v)
		}
	}
	if !strings.Contains(v, "%") {
		return v
	}
	remote := l.user
	if u := eff[sUser]; u != nil {
		remote = u.s
	}
	r := strings.NewReplacer("%%", "%", "%h", h.addr, "%d", l.home, "%u", l.user, "%r", remote, "%n", h.addr)
	return r.Replace(v)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
