package inventory

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Built-in defaults, applied when nothing sets a slot.
const (
	DefaultURL            = "https://app.netdata.cloud"
	DefaultTokenEnv       = "NETDATA_CLAIM_TOKEN"
	DefaultAPITokenEnv    = "NETDATA_CLOUD_API_TOKEN"
	DefaultPort           = 22
	DefaultConnectTimeout = 10 * time.Second
)

// linkGroups resolves children names, finds cycles and computes every
// group's ancestors and depth.
func (l *loader) linkGroups() {
	kids, refs := l.childIndexes()
	l.dropCycles(kids, refs)
	for gi := range l.groups {
		for _, c := range kids[gi] {
			l.groups[c].parents = append(l.groups[c].parents, int32(gi))
		}
	}
	l.ancestors()
}

// childIndexes resolves each group's children names to indexes (kids),
// with where each was written (refs), reporting unknown ones and "all".
func (l *loader) childIndexes() (kids [][]int32, refs [][]nameRef) {
	n := len(l.groups)
	kids = make([][]int32, n)
	refs = make([][]nameRef, n)
	for gi, g := range l.groups {
		for _, c := range g.children {
			ci, ok := l.groupIdx[c.name]
			if !ok || !l.groups[ci].defined {
				l.errorf(c.file, c.line, c.col, "groups."+g.name+".children", "unknown group %q%s", truncate(c.name, 80), didYouMean(c.name, l.groupNames()))
				continue
			}
			if ci == 0 {
				l.errorf(c.file, c.line, c.col, "groups."+g.name+".children", `"all" cannot be a child group`)
				continue
			}
			if slices.Contains(kids[gi], ci) {
				continue
			}
			kids[gi] = append(kids[gi], ci)
			refs[gi] = append(refs[gi], c)
		}
	}
	return kids, refs
}

// dropCycles searches the children depth first for cycles; each back edge
// is reported and dropped.
func (l *loader) dropCycles(kids [][]int32, refs [][]nameRef) {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(l.groups))
	var stack []int32
	var visit func(g int32)
	visit = func(g int32) {
		color[g] = grey
		stack = append(stack, g)
		keep := kids[g][:0]
		keepRefs := refs[g][:0]
		for i, c := range kids[g] {
			switch color[c] {
			case grey:
				l.reportCycle(stack, g, c, refs[g][i])
				continue
			case white:
				visit(c)
			}
			keep = append(keep, c)
			keepRefs = append(keepRefs, refs[g][i])
		}
		kids[g], refs[g] = keep, keepRefs
		stack = stack[:len(stack)-1]
		color[g] = black
	}
	for gi := range l.groups {
		if color[gi] == white {
			visit(int32(gi))
		}
	}
}

// reportCycle reports the back edge g -> c (written at r) that closes a
// cycle through the groups on stack.
func (l *loader) reportCycle(stack []int32, g, c int32, r nameRef) {
	start := slices.Index(stack, c)
	names := make([]string, 0, len(stack)-start+1)
	for _, s := range stack[start:] {
		names = append(names, l.groups[s].name)
	}
	names = append(names, l.groups[c].name)
	l.errorf(r.file, r.line, r.col, "groups."+l.groups[g].name+".children", "cycle in children: %s", strings.Join(names, " -> "))
}

// ancestors computes every group's ancestors and depth, memoized; the
// graph is acyclic by now.
func (l *loader) ancestors() {
	done := make([]bool, len(l.groups))
	var anc func(g int32)
	anc = func(g int32) {
		if done[g] {
			return
		}
		done[g] = true
		gr := l.groups[g]
		if g != 0 {
			gr.depth = 1
		}
		var set []int32
		for _, p := range gr.parents {
			anc(p)
			pg := l.groups[p]
			set = append(set, p)
			set = append(set, pg.anc...)
			gr.depth = max(gr.depth, pg.depth+1)
		}
		slices.Sort(set)
		gr.anc = slices.Compact(set)
	}
	for gi := range l.groups {
		anc(int32(gi))
	}
}

func (l *loader) groupNames() []string {
	out := make([]string, 0, len(l.groups))
	for _, g := range l.groups {
		if g.defined {
			out = append(out, g.name)
		}
	}
	return out
}

// isAncestor reports whether group a is an ancestor of group b.
func (l *loader) isAncestor(a, b int32) bool {
	if a == b {
		return false
	}
	if a == 0 {
		return true
	}
	_, found := slices.BinarySearch(l.groups[b].anc, a)
	return found
}

func (g *groupRec) get(s slot) *val {
	for i := range g.vals {
		if g.vals[i].slot == s {
			return &g.vals[i]
		}
	}
	return nil
}

// combo is the resolved group-level settings of one set of direct groups,
// shared by every host with that set.
type combo struct {
	groups    []string
	vals      [nSlots]*val
	conflicts [nSlots]*conflict
}

type conflict struct {
	a, b   *val
	ga, gb string
	hosts  []string // hosts hit, up to a few
	count  int
}

func (l *loader) buildCombo(direct []int32) *combo {
	c := &combo{}
	members := l.comboMembers(direct)
	c.groups = make([]string, len(members))
	for i, m := range members {
		c.groups[i] = l.groups[m].name
	}
	cands := make([]int32, 0, len(members)+1)
	for s := slot(0); s < nSlots; s++ {
		cands = cands[:0]
		if l.groups[0].get(s) != nil {
			cands = append(cands, 0)
		}
		for _, m := range members {
			if l.groups[m].get(s) != nil {
				cands = append(cands, m)
			}
		}
		if len(cands) == 0 {
			continue
		}
		if l.ansible {
			cands = l.varsFilesFirst(cands, s)
		}
		l.decideSlot(c, s, l.mostSpecific(cands))
	}
	return c
}

// comboMembers are the groups of a host in the direct groups direct: those,
// then their ancestors sorted ("all" left out).
func (l *loader) comboMembers(direct []int32) []int32 {
	members := slices.Clone(direct)
	for _, d := range direct {
		for _, a := range l.groups[d].anc {
			if a != 0 && !slices.Contains(members, a) {
				members = append(members, a)
			}
		}
	}
	if len(members) > len(direct) {
		slices.Sort(members[len(direct):])
	}
	return members
}

// mostSpecific keeps of the groups that set a slot those no other of them
// descends from.
func (l *loader) mostSpecific(cands []int32) []int32 {
	best := cands[:0:0]
	for _, a := range cands {
		shadowed := false
		for _, b := range cands {
			if l.isAncestor(a, b) {
				shadowed = true
				break
			}
		}
		if !shadowed {
			best = append(best, a)
		}
	}
	return best
}

// decideSlot gives c slot s from the most specific groups that set it:
// the one, the union of their rooms, or the first with a conflict noted
// (for Ansible, the value Ansible's rule picks).
func (l *loader) decideSlot(c *combo, s slot, best []int32) {
	first := l.groups[best[0]].get(s)
	c.vals[s] = first
	if len(best) == 1 {
		return
	}
	if s == sRooms {
		c.vals[s] = l.unionRooms(first, best)
		return
	}
	for _, g := range best[1:] {
		v := l.groups[g].get(s)
		if sameValue(first, v) {
			continue
		}
		if l.ansible {
			// Ansible's own rule: higher ansible_group_priority, then the
			// deeper group, then the name sorting last wins.
			win := best[0]
			for _, g2 := range best[1:] {
				if l.ansibleBeats(g2, win) {
					win = g2
				}
			}
			c.vals[s] = l.groups[win].get(s)
			c.conflicts[s] = &conflict{a: first, b: v, ga: l.groups[win].name, gb: l.groups[g].name, count: -1}
			return
		}
		c.conflicts[s] = &conflict{a: first, b: v, ga: l.groups[best[0]].name, gb: l.groups[g].name}
		return
	}
}

// unionRooms is the rooms of unrelated groups, added up.
func (l *loader) unionRooms(first *val, best []int32) *val {
	u := *first
	u.list = slices.Clone(first.list)
	srcs := []string{first.source()}
	for _, g := range best[1:] {
		v := l.groups[g].get(sRooms)
		for _, r := range v.list {
			if !slices.Contains(u.list, r) {
				u.list = append(u.list, r)
			}
		}
		srcs = append(srcs, v.source())
	}
	u.setSource(strings.Join(srcs, " + "))
	return &u
}

func (l *loader) ansibleBeats(a, b int32) bool {
	ga, gb := l.groups[a], l.groups[b]
	if ga.priority != gb.priority {
		return ga.priority > gb.priority
	}
	if ga.depth != gb.depth {
		return ga.depth > gb.depth
	}
	return ga.name > gb.name
}

func comboKey(direct []int32) string {
	if len(direct) == 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(&direct[0])), len(direct)*4))
}

func (l *loader) resolve() *Inventory {
	l.linkGroups()
	inv := &Inventory{
		Path:   l.path,
		Format: l.format,
		Groups: make(map[string]*Group, len(l.groups)),
	}
	for _, g := range l.groups {
		if !g.defined {
			continue
		}
		grp := &Group{Name: g.name, Hosts: g.hosts}
		for _, c := range g.children {
			if ci, ok := l.groupIdx[c.name]; ok && l.groups[ci].defined && ci != 0 && !slices.Contains(grp.Children, c.name) {
				grp.Children = append(grp.Children, c.name)
			}
		}
		inv.Groups[g.name] = grp
	}
	if len(l.errs) > 0 {
		// Unknown children or cycles: resolution would only repeat them.
		return inv
	}
	comboOrder := l.validateHosts()
	for _, c := range comboOrder {
		for s, cf := range c.conflicts {
			if cf == nil || cf.count == 0 {
				continue
			}
			more := ""
			if cf.count > len(cf.hosts) {
				more = fmt.Sprintf(" and %d more", cf.count-len(cf.hosts))
			}
			if l.ansible {
				continue
			}
			l.errorf(cf.b.file, int(cf.b.line), int(cf.b.col), slotNames[s],
				"host %s%s: groups %q and %q are unrelated and set %s differently (%s at %s, %s here); set it on the host, or in a group that is a child of both",
				strings.Join(cf.hosts, ", "), more, cf.ga, cf.gb, slotNames[s], cf.a.display(), cf.a.source(), cf.b.display())
		}
	}
	return inv
}

// validateHosts decides every host's settings once, reporting every
// problem, and gives each host its combo; it keeps the resolved hosts
// only when the load is not lazy (loader.resolved). It
// returns the combos in the order they were first used.
func (l *loader) validateHosts() []*combo {
	combos := make(map[string]*combo)
	var comboOrder []*combo
	seen := newAddrSeen(len(l.hosts))
	var eff, prevEff [nSlots]*val
	for i, h := range l.hosts {
		key := comboKey(h.direct)
		c, ok := combos[key]
		if !ok {
			c = l.buildCombo(h.direct)
			combos[string(append([]byte(nil), key...))] = c
			comboOrder = append(comboOrder, c)
		}
		h.combo = c
		clear(eff[:])
		l.effective(h, c, &eff, true)
		l.checkHost(h, &eff)
		if !l.opts.Lazy {
			l.resolved = append(l.resolved, l.makeHost(h, c, &eff))
		}
		addr, port := effAddress(h, &eff)
		ak := addrKey(&eff, addr, port)
		prev, dup := seen.add(ak, int32(i), func(j int32) string {
			clear(prevEff[:])
			l.effective(l.hosts[j], l.hosts[j].combo, &prevEff, false)
			a, p := effAddress(l.hosts[j], &prevEff)
			return addrKey(&prevEff, a, p)
		})
		if !dup {
			continue
		}
		// prevEff holds the earlier host's settings (the last call of keyOf).
		ph := l.hosts[prev]
		if diff := differingSlot(&prevEff, &eff); diff >= 0 {
			l.errorf(h.file, int(h.line), int(h.col), h.name,
				"host %q is the same machine as host %q (%s port %d) with a different %s; merge them or give one its own address",
				h.name, ph.name, addr, port, slotNames[diff])
		} else {
			l.warnf(h.file, int(h.line), int(h.col), h.name, "host %q is the same machine as host %q (%s port %d)", h.name, ph.name, addr, port)
		}
	}
	return comboOrder
}

// effAddress is the address and port eff gives host h.
func effAddress(h *hostRec, eff *[nSlots]*val) (string, int) {
	addr, port := h.addr(), DefaultPort
	if v := eff[sAddress]; v != nil {
		addr = v.s
	}
	if v := eff[sPort]; v != nil {
		port = int(v.n)
	}
	return addr, port
}

// addrKey names the machine a host reaches: its jump chain, address and
// port.
func addrKey(eff *[nSlots]*val, addr string, port int) string {
	var jump []Endpoint
	if v := eff[sJump]; v != nil {
		jump = v.jump()
	}
	return jumpString(jump) + ">" + addr + ":" + strconv.Itoa(port)
}

// addrSeen finds the first host of each machine with 12 bytes per host: a
// hash of the machine's key, and the exact keys only where two hashes
// collide.
type addrSeen struct {
	byHash map[uint64]int32
	exact  map[string]int32
}

func newAddrSeen(n int) *addrSeen {
	return &addrSeen{byHash: make(map[uint64]int32, n), exact: map[string]int32{}}
}

// add records host i at key and returns the earlier host of the same key,
// if any. keyOf recomputes the key of an earlier host, when its hash is the
// same.
func (a *addrSeen) add(key string, i int32, keyOf func(int32) string) (int32, bool) {
	if j, ok := a.exact[key]; ok {
		keyOf(j)
		return j, true
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	sum := h.Sum64()
	j, ok := a.byHash[sum]
	if !ok {
		a.byHash[sum] = i
		return 0, false
	}
	if keyOf(j) == key {
		return j, true
	}
	a.exact[key] = i
	return 0, false
}

// differingSlot returns a slot whose value differs, or -1.
func differingSlot(a, b *[nSlots]*val) int {
	for s := range a {
		if s == int(sAddress) || s == int(sPort) {
			continue
		}
		x, y := a[s], b[s]
		if x == y {
			continue
		}
		if x == nil || y == nil || !sameValue(x, y) {
			return s
		}
	}
	return -1
}

// effective decides every setting of one host into eff (cleared by the
// caller): host entries, then its combo's group settings, ssh_config and
// --set. With report, it reports conflicts and warnings, which validateHosts
// does once per host; without, it has no effect on the loader beyond what
// ssh_config's values allocate.
func (l *loader) effective(h *hostRec, c *combo, eff *[nSlots]*val, report bool) {
	// Host level: every entry that names the host. A higher rank wins (a
	// later source; host_vars files over inline variables); entries of one
	// rank must agree.
	if report {
		sortEntries(h.entries)
	}
	var rankOf [nSlots]int
	for _, e := range h.entries {
		for i := range e.vals {
			v := &e.vals[i]
			prev := eff[v.slot]
			if prev != nil && rankOf[v.slot] > e.rank {
				continue
			}
			if prev != nil && prev != v {
				if report && !sameValue(prev, v) {
					l.errorf(v.file, int(v.line), int(v.col), v.keyName(),
						"host %q: set to %s here and to %s at %s", h.name, v.display(), prev.display(), prev.sourceOf(h.name))
				}
				continue
			}
			eff[v.slot] = v
			rankOf[v.slot] = e.rank
		}
	}
	if eff[sPort] == nil && h.port != 0 {
		eff[sPort] = &val{slot: sPort, key: int16(keyIndex["port"]), n: int64(h.port), file: h.file, line: h.line, col: h.col,
			src: "host name"}
	}
	for s := slot(0); s < nSlots; s++ {
		if eff[s] != nil {
			continue
		}
		if cf := c.conflicts[s]; cf != nil && report {
			if cf.count >= 0 {
				cf.count++
				if len(cf.hosts) < 3 {
					cf.hosts = append(cf.hosts, strconv.Quote(h.name))
				}
			} else {
				l.warnf(cf.b.file, int(cf.b.line), int(cf.b.col), slotNames[s],
					"groups %q and %q both set %s; following Ansible, %q wins", cf.ga, cf.gb, slotNames[s], cf.ga)
			}
		}
		eff[s] = c.vals[s]
	}
	if l.ssh != nil {
		l.ssh.apply(l, h, eff)
	}
	for i := range l.overrides {
		eff[l.overrides[i].slot] = &l.overrides[i]
	}
}

// checkHost reports the settings of one host that exclude each other.
func (l *loader) checkHost(h *hostRec, eff *[nSlots]*val) {
	set := func(s slot) bool { return eff[s] != nil && eff[s].n != 0 }
	if pc, j := eff[sProxyCommand], eff[sJump]; pc != nil && pc.s != "" && j != nil && len(j.jump()) > 0 {
		l.errorf(pc.file, int(pc.line), int(pc.col), "proxy_command", "proxy_command and jump exclude each other (jump from %s)", j.sourceOf(h.name))
	}
	if set(sKsStaticOnly) && set(sKsNativeOnly) {
		v := eff[sKsNativeOnly]
		l.errorf(v.file, int(v.line), int(v.col), "kickstart.native_only", "kickstart static_only and native_only exclude each other (static_only from %s)", eff[sKsStaticOnly].sourceOf(h.name))
	}
	if m := eff[sMethod]; m != nil && m.s == "docker" && (eff[sDockerContainer] == nil || eff[sDockerContainer].s == "") {
		l.errorf(m.file, int(m.line), int(m.col), "method", "method docker needs docker_container")
	}
}

// host resolves host i of a validated inventory.
func (l *loader) host(i int) *Host {
	h := l.hosts[i]
	var eff [nSlots]*val
	l.effective(h, h.combo, &eff, false)
	return l.makeHost(h, h.combo, &eff)
}

// makeHost builds the Host of the settings eff decided.
func (l *loader) makeHost(h *hostRec, c *combo, eff *[nSlots]*val) *Host {
	host := &Host{
		Name:           h.name,
		Groups:         c.groups[:len(c.groups):len(c.groups)],
		Address:        h.addr(),
		Port:           DefaultPort,
		User:           l.user,
		HostKeyPolicy:  "strict",
		ConnectTimeout: DefaultConnectTimeout,
		Become:         "none",
		Claim: Claim{
			URL:      DefaultURL,
			Token:    SecretRef{Env: DefaultTokenEnv},
			APIToken: SecretRef{Env: DefaultAPITokenEnv},
			Method:   "auto",
			Kickstart: Kickstart{
				Channel: "stable",
			},
		},
	}
	n := 0
	for _, v := range eff {
		if v != nil {
			n++
		}
	}
	host.Sources = make(map[string]string, n)
	for s, v := range eff {
		if v == nil {
			continue
		}
		host.Sources[slotNames[s]] = v.sourceOf(h.name)
		setSlot(host, slot(s), v)
	}
	if len(host.KnownHosts) == 0 && l.home != "" {
		host.KnownHosts = []string{l.home + "/.ssh/known_hosts"}
	}
	host.Jump = hopUsers(host.Jump, l.user)
	if len(host.IdentityFiles) == 0 {
		if ids := l.defaultIDs(); len(ids) > 0 {
			host.IdentityFiles = ids
			host.Sources["identity_files"] = "OpenSSH's defaults in ~/.ssh"
		}
	}
	return host
}

// hopUsers gives each jump hop that names no user (nor has one from
// ssh_config) the local user, as `ssh -J hop` runs `ssh hop`: the target's
// user is not the hop's. The hops are copied only when one lacks a user
// (they may be a group's, shared by other hosts).
func hopUsers(hops []Endpoint, local string) []Endpoint {
	if local == "" || !slices.ContainsFunc(hops, func(e Endpoint) bool { return e.User == "" }) {
		return hops
	}
	out := slices.Clone(hops)
	for i := range out {
		if out[i].User == "" {
			out[i].User = local
		}
	}
	return out
}

// setSlot gives host the value v of slot s.
func setSlot(host *Host, s slot, v *val) {
	switch s {
	case sAddress:
		host.Address = v.s
	case sPort:
		host.Port = int(v.n)
	case sUser:
		host.User = v.s
	case sIdentityFiles:
		host.IdentityFiles = slices.Clip(v.list)
	case sJump:
		host.Jump = slices.Clip(v.jump())
	case sKnownHosts:
		host.KnownHosts = slices.Clip(v.list)
	case sHostKeyPolicy:
		host.HostKeyPolicy = v.s
	case sHostKeyAlias:
		host.HostKeyAlias = v.s
	case sHashKnownHosts:
		host.HashKnownHosts = v.n != 0
	case sProxyCommand:
		host.ProxyCommand = v.s
	case sCertificateFiles:
		host.CertificateFiles = slices.Clip(v.list)
	case sIdentityAgent:
		host.IdentityAgent = v.s
	case sIdentitiesOnly:
		host.IdentitiesOnly = v.n != 0
	case sConnectTimeout:
		host.ConnectTimeout = time.Duration(v.n)
	case sServerAliveInterval:
		host.ServerAliveInterval = time.Duration(v.n)
	case sBecome:
		host.Become = v.s
	case sBecomeUser:
		host.BecomeUser = v.s
	case sSudoPassword:
		host.SudoPassword = secretRef(v)
	case sURL:
		host.Claim.URL = v.s
	case sToken:
		host.Claim.Token = secretRef(v)
	case sRooms:
		host.Claim.Rooms = slices.Clip(v.list)
	case sProxy:
		host.Claim.Proxy = NewProxy(v.s)
	case sInsecure:
		host.Claim.Insecure = v.n != 0
	case sCAFile:
		host.Claim.CAFile = v.s
	case sMethod:
		host.Claim.Method = v.s
	case sDockerContainer:
		host.Claim.DockerContainer = v.s
	case sNetdataPrefix:
		host.Claim.NetdataPrefix = v.s
	case sHostname:
		host.Claim.Hostname = v.s
	case sKsChannel:
		host.Claim.Kickstart.Channel = v.s
	case sKsStaticOnly:
		host.Claim.Kickstart.StaticOnly = v.n != 0
	case sKsNativeOnly:
		host.Claim.Kickstart.NativeOnly = v.n != 0
	case sKsScriptFile:
		host.Claim.Kickstart.ScriptFile = v.s
	case sKsScriptSHA256:
		host.Claim.Kickstart.ScriptSHA256 = v.s
	case sKsOfflineBundle:
		host.Claim.Kickstart.OfflineBundle = v.s
	case sKsAllowReinstall:
		host.Claim.Kickstart.AllowReinstall = v.n != 0
	case sKsDisableTelemetry:
		host.Claim.Kickstart.DisableTelemetry = v.n != 0
	case sSpace:
		host.Claim.Space = v.s
	case sAPIToken:
		host.Claim.APIToken = secretRef(v)
	case sAPIInsecure:
		host.Claim.APIInsecure = v.n != 0
	case sEphemeral:
		e := v.n != 0
		host.Claim.Ephemeral = &e
	case sLabels:
		host.Claim.Labels = labelPairs(v.list)
	}
}

func secretRef(v *val) SecretRef {
	switch keyTable[v.key].kind {
	case kEnvName:
		return SecretRef{Env: v.s}
	case kLocalPath:
		return SecretRef{File: v.s}
	}
	return SecretRef{Inline: v.s}
}

// parseOverrides reads --set key=value settings.
func (l *loader) parseOverrides() {
	for _, o := range l.opts.Overrides {
		k, value, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			l.errorf("--set", 0, 0, truncate(o, 40), "want key=value")
			continue
		}
		ki, known := keyIndex[k]
		if !known {
			l.errorf("--set", 0, 0, k, "unknown key%s", didYouMean(k, settingKeyNames))
			continue
		}
		// fleetclaim's own command line is readable by every user of the
		// machine (ps, /proc/PID/cmdline): no secret may be given there.
		switch {
		case keyTable[ki].kind == kSecret:
			l.errorf("--set", 0, 0, k, "a secret on the command line is visible to every user of this machine: set %s_env or %s_file instead", k, k)
			continue
		case keyTable[ki].kind == kProxy && NewProxy(strings.TrimSpace(value)).HasCredentials():
			l.errorf("--set", 0, 0, k, "a secret on the command line is visible to every user of this machine: write a proxy with a user:password in the inventory (it is redacted in every output)")
			continue
		}
		node := scalarNode(value, 0, 0)
		if strings.HasPrefix(strings.TrimSpace(value), "[") {
			if n := l.parseFlowValue(value); n != nil {
				node = n
			}
		}
		before := len(l.errs)
		l.overrides = l.addVal(l.overrides, ki, node, "--set", k, "")
		if len(l.errs) == before {
			for i := range l.overrides {
				l.overrides[i].setSource("--set")
			}
		}
	}
}
