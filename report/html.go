package report

import (
	"bufio"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fanout/fanout/internal/humantime"
)

//go:embed templates/report.html.tmpl templates/style.css
var files embed.FS

// page is the parsed template, parsed on first use: parsing takes about a
// millisecond, which every fanout process (a worker, a submit, --version)
// paid at start when it was a package variable.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
		"num":   fmtNum,
		"pct":   fmtPct,
		"ms":    humantime.Millis,
		"bytes": fmtBytes,
		"f1":    func(f float64) string { return fmtFloat(f, 1) },
		"pname": func(p float64) string { return "p" + trimFloat(p) },
		"time":  func(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") },
		"int64": func(i int) int64 { return int64(i) },
	}).ParseFS(files, "templates/report.html.tmpl"))
})

var css = mustRead("templates/style.css")

func mustRead(name string) template.CSS {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time; cannot fail at run time
	}
	return template.CSS(b) // our own stylesheet, not data
}

// view is what the template draws: the report plus the charts and the
// headline figures computed from it.
type view struct {
	*Report
	CSS       template.CSS
	Title     string
	Cards     []card
	Status    barChart
	KindBars  barChart
	LatChart  barChart
	Waterfall waterfall
	Args      string
}

// card is one headline figure.
type card struct {
	Label, Value, Sub, Class string
}

// WriteHTML writes the report as one self-contained HTML page: styles and
// SVG charts inline, nothing loaded from anywhere (a Content-Security-Policy
// forbids it), every string from the network escaped by html/template.
func (r *Report) WriteHTML(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := page().Execute(bw, r.view()); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

func (r *Report) view() *view {
	// Build cleans RunInfo's strings, but callers set them afterwards too
	// (fanout report --title): clean what is shown of them again (clean
	// leaves a clean string as it is).
	info := r.Info
	info.Title, info.ID, info.Source = clean(info.Title), clean(info.ID), clean(info.Source)
	info.Args = make([]string, len(r.Info.Args))
	for i, a := range r.Info.Args {
		info.Args[i] = clean(a)
	}
	shown := *r
	shown.Info = info
	r = &shown
	v := &view{
		Report:    r,
		CSS:       css,
		Title:     r.title(),
		Status:    statusChart(r.Classes),
		KindBars:  hbarChart(r.Kinds, "No errors."),
		LatChart:  latencyChart(r.Latency),
		Waterfall: waterfallChart(r.Slowest),
	}
	v.Args = strings.Join(r.Info.Args, " ")
	v.Cards = r.cards()
	return v
}

func (r *Report) title() string {
	switch {
	case r.Info.Title != "":
		return r.Info.Title
	case r.Info.ID != "":
		return "fanout run " + r.Info.ID
	case r.Info.Source != "":
		return "fanout results: " + r.Info.Source
	}
	return "fanout results"
}

// pct returns the latency at percentile p, 0 when there is none.
func (r *Report) pct(p float64) float64 {
	for _, x := range r.Latency.Percentiles {
		if x.P == p {
			return x.Ms
		}
	}
	return 0
}

func (r *Report) cards() []card {
	failed := r.Total - r.Accepted
	acc := card{Label: "Accepted", Value: fmtPct(share(r.Accepted, r.Total)),
		Sub: fmtNum(r.Accepted) + " with status in " + r.Accept, Class: "good"}
	switch {
	case r.Total == 0:
		// Not a success: 0% of nothing in green read as one.
		acc = card{Label: "Accepted", Value: "–", Sub: "no results"}
	case failed > 0:
		acc.Class = "warn"
	}
	fail := card{Label: "Failed", Value: fmtNum(failed),
		Sub: fmtNum(r.WithError) + " with an error, " + fmtNum(failed-r.WithError) + " by status"}
	if failed > 0 {
		fail.Class = "bad"
	}
	hosts := fmtNum(int64(r.HostsSeen))
	if r.HostsCapped {
		hosts = "> " + hosts
	}
	wall := card{Label: "Wall time", Value: "–", Sub: "run times unknown"}
	if d := r.End.Sub(r.Start); !r.Start.IsZero() && d > 0 {
		wall.Value = humantime.Duration(d)
		wall.Sub = fmtRate(float64(r.Total)/d.Seconds()) + " · " + r.Start.Format("2006-01-02 15:04")
	}
	lat := []card{
		{Label: "Median (p50)", Value: humantime.Millis(r.pct(50)), Sub: "mean " + humantime.Millis(r.Latency.MeanMs)},
		{Label: "p95", Value: humantime.Millis(r.pct(95)), Sub: "p90 " + humantime.Millis(r.pct(90))},
		{Label: "p99", Value: humantime.Millis(r.pct(99)), Sub: "max " + humantime.Millis(r.Latency.MaxMs)},
	}
	if r.Latency.N == 0 {
		// Nothing was timed (every target failed before a request, or
		// there are no results): no latency, rather than 0ms.
		for i := range lat {
			lat[i].Value, lat[i].Sub = "–", "nothing fetched"
		}
	}
	results := card{Label: "Results", Value: fmtNum(r.Total), Sub: fmtBytes(r.Bytes) + " of bodies read"}
	if r.Truncated > 0 {
		// As the summary says it: bytes and hashes are of what was read.
		results.Sub += ", " + fmtNum(r.Truncated) + " cut at --max-body"
	}
	return []card{
		results,
		acc,
		fail,
		{Label: "Hosts", Value: hosts, Sub: "distinct host:port"},
		lat[0], lat[1], lat[2],
		wall,
	}
}
