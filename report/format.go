package report

import (
	"math"
	"strconv"
	"time"

	"github.com/fanout/fanout/output"
)

func itoa(n int) string { return strconv.Itoa(n) }

func fmtFloat(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }

// fmtNum writes n with thousands separators: 1,000,000.
func fmtNum(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

// fmtPct writes a share (0..1) as a percentage with sensible precision.
// Only all and nothing are written 100% and 0%: 3 failures in 10,000 are
// "accepted >99.9%", never "100%".
func fmtPct(f float64) string {
	p := f * 100
	switch {
	case p == 0:
		return "0%"
	case p < 0.1:
		return "<0.1%"
	case p < 10:
		return fmtFloat(p, 1) + "%"
	case p > 99.9 && p < 100:
		return ">99.9%"
	case p >= 99.5 && p < 100: // would round to 100
		return fmtFloat(math.Floor(p*10)/10, 1) + "%"
	}
	return fmtFloat(p, 0) + "%"
}

// fmtMs writes milliseconds in a short human form: 0.42ms, 7.5ms, 123ms,
// 1.25s, 12.3s, 2m05s.
func fmtMs(ms float64) string {
	if math.IsNaN(ms) || ms < 0 {
		ms = 0
	}
	switch {
	case ms == 0:
		return "0ms"
	case ms < 1:
		return fmtFloat(ms, 2) + "ms"
	case ms < 10:
		return fmtFloat(ms, 1) + "ms"
	case ms < 999.5:
		return fmtFloat(ms, 0) + "ms"
	case ms < 9995:
		return fmtFloat(ms/1000, 2) + "s"
	case ms < 59950:
		return fmtFloat(ms/1000, 1) + "s"
	}
	if math.IsInf(ms, 1) {
		return "∞"
	}
	if ms >= 1e18 { // past 2^63 seconds int64 overflows; no fetch takes 30 million years
		return strconv.FormatFloat(ms/3.6e6, 'g', 3, 64) + "h"
	}
	sec := int64(math.Round(ms / 1000))
	if sec < 3600 {
		return strconv.FormatInt(sec/60, 10) + "m" + two(sec%60) + "s"
	}
	return strconv.FormatInt(sec/3600, 10) + "h" + two(sec/60%60) + "m"
}

func two(n int64) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// fmtBytes writes a byte count in SI units, as the summary does.
func fmtBytes(n int64) string { return output.FormatBytes(n) }

func fmtDuration(d time.Duration) string { return fmtMs(float64(d) / float64(time.Millisecond)) }

// fmtRate writes a per-second rate: 950/s, 12.3k/s.
func fmtRate(r float64) string {
	if r < 1000 {
		return fmtFloat(r, 0) + "/s"
	}
	return fmtFloat(r/1000, 1) + "k/s"
}
