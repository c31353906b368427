package report

import (
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fanout/fanout/internal/humantime"
)

// The charts are computed here as plain geometry (numbers and labels) and
// drawn by the template, so that every label goes through html/template's
// escaping like any other text on the page.

// chartWidth is the drawing width of a full-width chart, in CSS pixels; the
// SVGs scale with the page through their viewBox.
const chartWidth = 1120

// bar is one rectangle with its labels.
type bar struct {
	X, Y, W, H     float64
	Class          string // CSS class giving its colour
	Label, Value   string
	Tip            string // tooltip text
	LabelX, LabelY float64
	ValueX, ValueY float64
}

// barChart is a vertical or horizontal bar chart.
type barChart struct {
	W, H  float64
	Bars  []bar
	Lines []line
	Empty string // shown instead when there is nothing to draw
}

// line is a straight line with an optional label at (TX, TY).
type line struct {
	X1, Y1, X2, Y2 float64
	Class          string
	Text           string
	TX, TY         float64
	Anchor         string
}

// statusChart draws results per status class as vertical bars.
func statusChart(classes []Count) barChart {
	const w, h, top, bottom, gap = 540, 250, 26, 30, 14
	c := barChart{W: w, H: h}
	var most int64
	for _, k := range classes {
		most = max(most, k.N)
	}
	if most == 0 {
		c.Empty = "No results."
		return c
	}
	bw := (w - gap*float64(len(classes)+1)) / float64(len(classes))
	plot := float64(h - top - bottom)
	for i, k := range classes {
		x := gap + float64(i)*(bw+gap)
		bh := plot * float64(k.N) / float64(most)
		if k.N > 0 {
			bh = max(bh, 2)
		}
		y := top + plot - bh
		c.Bars = append(c.Bars, bar{
			X: x, Y: y, W: bw, H: bh, Class: "cls" + itoa(i),
			Label: k.Label, LabelX: x + bw/2, LabelY: h - bottom + 18,
			Value: fmtNum(k.N), ValueX: x + bw/2, ValueY: y - 7,
			Tip: k.Label + ": " + fmtNum(k.N) + " (" + fmtPct(k.Share) + ")",
		})
	}
	c.Lines = append(c.Lines, line{X1: gap / 2, Y1: top + plot, X2: w - gap/2, Y2: top + plot, Class: "axis"})
	return c
}

// hbarChart draws counts as horizontal bars, one labelled row each.
func hbarChart(counts []Count, empty string) barChart {
	const w, row, labelW, valueW = 540, 24, 150, 120
	var most int64
	var rows []Count
	for _, k := range counts {
		if k.N > 0 {
			rows = append(rows, k)
			most = max(most, k.N)
		}
	}
	c := barChart{W: w, H: float64(max(len(rows), 1)*row + 8)}
	if len(rows) == 0 {
		c.Empty = empty
		return c
	}
	plot := float64(w - labelW - valueW)
	for i, k := range rows {
		y := float64(4 + i*row)
		bw := max(plot*float64(k.N)/float64(most), 2)
		c.Bars = append(c.Bars, bar{
			X: labelW, Y: y + 3, W: bw, H: row - 8, Class: "kind",
			Label: k.Label, LabelX: labelW - 8, LabelY: y + row/2 + 4,
			Value: fmtNum(k.N) + " · " + fmtPct(k.Share), ValueX: labelW + bw + 6, ValueY: y + row/2 + 4,
			Tip: k.Label + ": " + fmtNum(k.N),
		})
	}
	return c
}

// latencyChart draws the latency histogram on a log time axis with the
// percentiles marked.
func latencyChart(l Latency) barChart {
	const w, h, left, right, top, bottom = chartWidth, 300, 64, 20, 44, 34
	c := barChart{W: w, H: h}
	if l.N == 0 || len(l.Bins) == 0 {
		c.Empty = "No result was fetched, so there is no latency to show."
		return c
	}
	lo, hi := math.Log(l.Bins[0].LoMs), math.Log(l.Bins[len(l.Bins)-1].HiMs)
	plotW, plotH := float64(w-left-right), float64(h-top-bottom)
	xOf := func(ms float64) float64 {
		return left + plotW*(math.Log(max(ms, 1e-6))-lo)/(hi-lo)
	}
	var most int64
	for _, b := range l.Bins {
		most = max(most, b.N)
	}
	yMax := niceCeil(float64(most))
	// Four grid steps, or as many as keep every label a whole count: with
	// a handful of results the axis read 0, 0, 0, 0, 1.
	steps := 4
	for _, n := range []int{4, 5, 2, 1} {
		if math.Mod(yMax, float64(n)) == 0 {
			steps = n
			break
		}
	}
	for i := 0; i <= steps; i++ {
		v := yMax * float64(i) / float64(steps)
		y := top + plotH - plotH*v/yMax
		c.Lines = append(c.Lines, line{X1: left, Y1: y, X2: w - right, Y2: y, Class: "grid",
			Text: fmtNum(int64(v)), TX: left - 6, TY: y + 4, Anchor: "end"})
	}
	for _, b := range l.Bins {
		if b.N == 0 {
			continue
		}
		x1, x2 := xOf(b.LoMs), xOf(b.HiMs)
		bh := max(plotH*float64(b.N)/yMax, 1.5)
		c.Bars = append(c.Bars, bar{X: x1 + 0.5, Y: top + plotH - bh, W: max(x2-x1-1, 1), H: bh, Class: "lat",
			Tip: humantime.Millis(b.LoMs) + " – " + humantime.Millis(b.HiMs) + ": " + fmtNum(b.N)})
	}
	for _, t := range timeTicks(l.Bins[0].LoMs, l.Bins[len(l.Bins)-1].HiMs) {
		x := xOf(t)
		c.Lines = append(c.Lines, line{X1: x, Y1: top + plotH, X2: x, Y2: top + plotH + 5, Class: "axis",
			Text: humantime.Millis(t), TX: x, TY: top + plotH + 20, Anchor: "middle"})
	}
	c.Lines = append(c.Lines, line{X1: left, Y1: top + plotH, X2: w - right, Y2: top + plotH, Class: "axis"})
	// Percentile markers; labels that would collide move up a row, and
	// markers that fall on one spot (few results: p90 = p95 = p99) share
	// one label.
	var marks []Percentile
	var names []string
	for _, p := range l.Percentiles {
		if p.P == 75 {
			continue // keep the markers few enough to read
		}
		name := "p" + trimFloat(p.P)
		if n := len(marks); n > 0 && xOf(max(p.Ms, l.Bins[0].LoMs))-xOf(max(marks[n-1].Ms, l.Bins[0].LoMs)) < 4 {
			names[n-1] += "·" + name
			marks[n-1] = p
			continue
		}
		marks, names = append(marks, p), append(names, name)
	}
	// Where each row's last label ends. Labels are placed by their
	// extent, not their marker: a long label drawn leftwards from the
	// right edge ("p90·p95·p99·p99.9 400ms") reaches far past its marker.
	lastEnd := [2]float64{-1e9, -1e9}
	for i, p := range marks {
		x := xOf(max(p.Ms, l.Bins[0].LoMs))
		text := names[i] + " " + humantime.Millis(p.Ms)
		tw := pctLabelWidth(text)
		anchor, tx, x0 := "middle", x, x-tw/2
		switch { // keep labels near the edges inside the drawing
		case x+tw/2 > w-3:
			anchor, tx, x0 = "end", x+3, x+3-tw
		case x-tw/2 < 3:
			anchor, tx, x0 = "start", x-3, x-3
		}
		row := 0
		if x0 < lastEnd[0]+14 {
			row = 1
			if x0 < lastEnd[1]+14 {
				row = 0 // both rows are taken: overlap the older one
			}
		}
		lastEnd[row] = x0 + tw
		ty := float64(top - 26 + row*14)
		c.Lines = append(c.Lines, line{X1: x, Y1: ty + 4, X2: x, Y2: top + plotH, Class: "pct",
			Text: text, TX: tx, TY: ty, Anchor: anchor})
	}
	return c
}

// pctLabelWidth estimates the drawn width of a percentile label (11px
// semibold, CSS text.pct) generously: about 6.6px a character.
func pctLabelWidth(s string) float64 { return 6.6 * float64(utf8.RuneCountInString(s)) }

// waterfall is one row per slow target: phases as stacked segments.
type waterfall struct {
	W, H   float64
	Rows   []wfRow
	Legend []bar
}

type wfRow struct {
	Y        float64
	Label    string // the URL, shortened
	Full     string // the URL in full, for the tooltip
	Segments []bar
	Total    string
	TotalX   float64
	Note     string // status or error kind
}

var phases = []struct{ name, class string }{
	{"dns", "ph-dns"}, {"connect", "ph-connect"}, {"tls", "ph-tls"},
	{"ttfb", "ph-ttfb"}, {"transfer", "ph-transfer"}, {"other: earlier hops, waiting when it failed", "ph-other"},
}

// waterfallChart lays out the slowest targets, all on one time scale.
func waterfallChart(ts []Target) waterfall {
	const w, labelW, noteW, row, top = chartWidth, 400, 150, 22, 30
	wf := waterfall{W: w, H: float64(top + max(len(ts), 1)*row + 6)}
	x := 0.0
	for _, p := range phases {
		wf.Legend = append(wf.Legend, bar{X: x, Y: 4, W: 12, H: 12, Class: p.class, Label: p.name, LabelX: x + 17, LabelY: 14})
		x += 17 + 7.5*float64(len(p.name)) + 22
	}
	var most float64
	for _, t := range ts {
		most = max(most, t.Timing.Total)
	}
	plot := float64(w - labelW - noteW - 70)
	for i, t := range ts {
		y := float64(top + i*row)
		r := wfRow{Y: y, Label: shorten(t.URL, 54), Full: t.URL, Note: targetNote(t)}
		tm := t.Timing
		// Phases are of the final hop and so fit in the total; ones that do
		// not (a hand-edited file) are cut to it, so that no row runs past
		// the plot into the notes or off the chart.
		parts := []float64{tm.DNS, tm.Connect, tm.TLS, tm.TTFB, tm.Transfer}
		given := slices.Clone(parts) // for the tooltips
		left := tm.Total
		for k, ms := range parts {
			if !(ms > 0) { // and NaN
				ms = 0
			}
			parts[k] = min(ms, left)
			left -= parts[k]
		}
		parts, given = append(parts, left), append(given, left)
		x := float64(labelW)
		for k, ms := range parts {
			if !(ms > 0) || most <= 0 {
				continue
			}
			sw := plot * (ms / most) // plot*ms overflows for ms near the largest float
			r.Segments = append(r.Segments, bar{X: x, Y: y + 4, W: max(sw, 0.5), H: row - 8, Class: phases[k].class,
				Tip: phases[k].name + " " + humantime.Millis(given[k])})
			x += sw
		}
		r.Total, r.TotalX = humantime.Millis(tm.Total), x+6
		wf.Rows = append(wf.Rows, r)
	}
	return wf
}

func targetNote(t Target) string {
	s := "no response"
	if t.Status != 0 {
		s = itoa(t.Status)
	}
	if t.Kind != "" {
		s += " · " + string(t.Kind)
	}
	return s
}

// shorten cuts s to at most n runes, with an ellipsis in the middle so
// both the host and the end of the path stay visible.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	head := n * 2 / 3
	return string(r[:head]) + "…" + string(r[len(r)-(n-head-1):])
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// timeTicks returns 1-2-5 steps in milliseconds within [lo, hi], thinned
// to at most about ten.
func timeTicks(lo, hi float64) []float64 {
	var ticks []float64
	for p := math.Floor(math.Log10(max(lo, 1e-3))); p <= math.Log10(hi)+1; p++ {
		for _, m := range []float64{1, 2, 5} {
			if v := m * math.Pow(10, p); v >= lo && v <= hi {
				ticks = append(ticks, v)
			}
		}
	}
	for len(ticks) > 10 {
		var thin []float64
		for i := 0; i < len(ticks); i += 2 {
			thin = append(thin, ticks[i])
		}
		ticks = thin
	}
	return ticks
}

func trimFloat(f float64) string {
	s := strings.TrimRight(strings.TrimRight(fmtFloat(f, 1), "0"), ".")
	return s
}
