package output

import (
	"math"
	"strconv"
	"time"
)

// appendMillis appends a duration given in milliseconds in a short human
// form: "0ms", "0.47ms", "6.7ms", "123ms", "1.2s", "59.9s", "2m05s", "1h02m".
// Below 10ms it keeps a digit more than whole milliseconds would: on a LAN
// or loopback the percentiles are fractions of a millisecond, and "p50 0ms"
// says nothing.
func appendMillis(b []byte, ms float64) []byte {
	if math.IsNaN(ms) || ms < 0 {
		ms = 0
	}
	if ms > 0 && ms < 9.95 {
		digits := 1
		if ms < 0.995 {
			digits, ms = 2, max(ms, 0.01)
		}
		b = strconv.AppendFloat(b, ms, 'f', digits, 64)
		return append(b, 'm', 's')
	}
	if r := math.Round(ms); r < 1000 {
		b = strconv.AppendInt(b, int64(r), 10)
		return append(b, 'm', 's')
	}
	sec := ms / 1000
	if sec < 59.95 {
		b = strconv.AppendFloat(b, sec, 'f', 1, 64)
		return append(b, 's')
	}
	total := int64(math.Round(sec))
	if total < 3600 {
		b = strconv.AppendInt(b, total/60, 10)
		b = append(b, 'm')
		b = append2(b, total%60)
		return append(b, 's')
	}
	min := total / 60
	b = strconv.AppendInt(b, min/60, 10)
	b = append(b, 'h')
	b = append2(b, min%60)
	return append(b, 'm')
}

// append2 appends n (0..99) as two digits.
func append2(b []byte, n int64) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// formatDuration formats d like appendMillis.
func formatDuration(d time.Duration) string {
	return string(appendMillis(nil, float64(d)/float64(time.Millisecond)))
}

// appendBytes appends a byte count in decimal (SI) units: "0B", "512B",
// "4.5KB", "12KB", "1.2MB".
func appendBytes(b []byte, n int64) []byte {
	if n < 1000 {
		b = strconv.AppendInt(b, n, 10)
		return append(b, 'B')
	}
	const units = "KMGTPE"
	v := float64(n)
	u := -1
	for v >= 999.5 && u < len(units)-1 {
		v /= 1000
		u++
	}
	if v < 9.95 {
		b = strconv.AppendFloat(b, v, 'f', 1, 64)
	} else {
		b = strconv.AppendFloat(b, v, 'f', 0, 64)
	}
	return append(b, units[u], 'B')
}

// FormatBytes formats a byte count in SI units, as the summary and the
// text format show it: 512B, 4.5KB, 12MB.
func FormatBytes(n int64) string { return string(appendBytes(nil, n)) }

// appendPadLeft appends s right-aligned in a field of width bytes.
func appendPadLeft(b []byte, s []byte, width int) []byte {
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}
