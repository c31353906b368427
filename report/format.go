package report

import (
	"math"
	"strconv"

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

// fmtBytes writes a byte count in SI units, as the summary does.
func fmtBytes(n int64) string { return output.FormatBytes(n) }

// fmtRate writes a per-second rate: 950/s, 12.3k/s.
func fmtRate(r float64) string {
	if r < 1000 {
		return fmtFloat(r, 0) + "/s"
	}
	return fmtFloat(r/1000, 1) + "k/s"
}
