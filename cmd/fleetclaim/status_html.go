package main

import (
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/fleetclaim/fleetclaim/claim"
)

// The status page: one self-contained HTML file. Its CSS is inline, it has
// no script and loads nothing from elsewhere, and html/template escapes
// every string that comes from a record (host names, messages, rooms: any
// of them may be hostile).

// statusClass is the CSS class of a status: a fixed set, never the record's
// own text.
func statusClass(s string) string {
	switch claim.Status(s) {
	case claim.StatusClaimed, claim.StatusAlreadyClaimed, claim.StatusReclaimed:
		return "ok"
	case claim.StatusFailed:
		return "bad"
	case claim.StatusSkipped, claim.StatusPlanned, claim.StatusNotStarted:
		return "meh"
	}
	return "other"
}

var statusFuncs = template.FuncMap{
	"statusClass": statusClass,
	"time":        timeText,
	"since":       sinceText,
	"join":        strings.Join,
	"clip":        func(s string) string { return oneLine(s, 160) },
	// barWidth is a count's bar, in pixels (the whole fleet: 200).
	"barWidth": func(n, total int) int {
		if total == 0 {
			return 0
		}
		return n * 200 / total
	},
	"orDash": orDash,
	"total":  func(st *fleetStatus) int { return len(st.Hosts) },
	"rfc":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}

var statusPage = template.Must(template.New("status").Funcs(statusFuncs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>fleetclaim status: {{total .}} hosts</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#666;margin-bottom:16px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:26px}
table{border-collapse:collapse;background:#fff;border:1px solid #ddd}
th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f0f0f0}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:10px;background:#888;border-radius:2px}
.ok{color:#17803d}.bad{color:#b42318}.meh{color:#8a6d00}.other{color:#555}
.bar.ok{background:#2fa85a}.bar.bad{background:#d64545}.bar.meh{background:#d4a72c}.bar.other{background:#888}
.msg{color:#555;max-width:640px;word-break:break-word;white-space:normal}
.none{color:#888;font-style:italic}
</style>
</head>
<body>
<h1>fleetclaim status</h1>
<div class="sub">{{total .}} hosts from {{.Runs}} runs; latest run <code>{{.LastRun}}</code>; generated <time datetime="{{rfc .Generated}}">{{time .Generated}}</time> from the history in <code>{{.History}}</code></div>
<div class="cards">
<div class="card" id="card-hosts"><b>{{total .}}</b>hosts</div>
{{range .ByStatus}}<div class="card"><b class="{{statusClass .Name}}">{{.Count}}</b>{{.Name}}</div>
{{end}}<div class="card" id="card-offline"><b class="{{if .Offline}}bad{{else}}ok{{end}}">{{len .Offline}}</b>offline</div>
<div class="card" id="card-changed"><b>{{len .Changed}}</b>changed</div>
</div>

<h2>By status</h2>
<table id="by-status"><tr><th>status</th><th>hosts</th><th></th></tr>
{{$t := total .}}{{range .ByStatus}}<tr><td class="{{statusClass .Name}}">{{.Name}}</td><td class="n">{{.Count}}</td><td><span class="bar {{statusClass .Name}}" style="width:{{barWidth .Count $t}}px"></span></td></tr>
{{end}}</table>

<h2>By category</h2>
{{if .ByCategory}}<table id="by-category"><tr><th>category</th><th>hosts</th></tr>
{{range .ByCategory}}<tr><td>{{.Name}}</td><td class="n">{{.Count}}</td></tr>
{{end}}</table>{{else}}<p class="none">no host has a failure category</p>{{end}}

<h2>Hosts per room</h2>
{{if .Rooms}}<table id="rooms"><tr><th>room</th><th>hosts</th><th>names</th></tr>
{{range .Rooms}}<tr><td>{{.Room}}</td><td class="n">{{len .Hosts}}</td><td class="msg">{{join .Hosts ", "}}</td></tr>
{{end}}</table>{{else}}<p class="none">no rooms recorded</p>{{end}}

<h2>Offline</h2>
{{if .Offline}}<table id="offline"><tr><th>host</th><th>offline since</th><th>for</th><th>detail</th></tr>
{{$now := .Generated}}{{range .Offline}}<tr><td>{{.Host}}</td><td>{{time .OfflineSince}}</td><td>{{since $now .OfflineSince}}</td><td class="msg">{{clip .Message}}</td></tr>
{{end}}</table>{{else}}<p class="none">no claimed node is offline</p>{{end}}

<h2>Changed since the previous run</h2>
{{if .Changed}}<table id="changed"><tr><th>host</th><th>before</th><th>now</th><th>previous run</th><th>run</th></tr>
{{range .Changed}}<tr><td>{{.Host}}</td><td>{{.Before}}</td><td>{{.After}}</td><td><code>{{.PrevRun}}</code></td><td><code>{{.Run}}</code></td></tr>
{{end}}</table>{{else}}<p class="none">no host changed</p>{{end}}

<h2>Every host</h2>
<table id="hosts"><tr><th>host</th><th>groups</th><th>status</th><th>category</th><th>online</th><th>node id</th><th>rooms</th><th>detail</th></tr>
{{range .Hosts}}<tr><td>{{.Host}}</td><td>{{.Groups}}</td><td class="{{statusClass .Status}}">{{.Status}}</td><td>{{.Category}}</td><td>{{orDash .Online}}</td><td><code>{{.NodeID}}</code></td><td>{{join .Rooms ", "}}</td><td class="msg">{{clip .Message}}</td></tr>
{{end}}</table>
</body>
</html>
`))

func writeStatusHTML(w io.Writer, st *fleetStatus) error {
	return statusPage.Execute(w, st)
}
