// Package humantime formats durations for a person to read, one way for all
// of fanout's human output: the text format, the summary, the progress bar,
// the HTML report, runs, diff and error messages. Machine formats (JSON Lines,
// CSV, --summary-json) keep their numbers in the units they document.
//
// The rule keeps about two significant digits, fewer as durations grow, so
// that the same time reads the same wherever it is printed:
//
//	below 1ms     two decimals    0.47ms (at least 0.01ms for any time above 0)
//	below 10ms    one decimal     6.7ms
//	below 1s      whole ms        123ms
//	below 1min    0.1s            1.2s, 59.9s
//	below 1h      whole seconds   2m05s
//	from 1h on    whole minutes   1h02m
//
// Each step rounds to its own precision before choosing, so 999.6ms is
// "1.0s", not "1000ms", and 59.96s is "1m00s".
package humantime

import (
	"math"
	"strconv"
	"time"
)

// AppendMillis appends a duration given in milliseconds as the package doc
// says. A negative or NaN duration is "0ms"; an infinite one "∞".
func AppendMillis(b []byte, ms float64) []byte {
	if math.IsNaN(ms) || ms < 0 {
		ms = 0
	}
	// Below 10ms a digit more than whole milliseconds: on a LAN or loopback
	// the percentiles are fractions of a millisecond, and "p50 0ms" says
	// nothing.
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
	switch {
	case math.IsInf(ms, 1):
		return append(b, "∞"...)
	case ms >= 1e18: // past this whole seconds overflow an int64; no fetch takes 30 million years
		b = strconv.AppendFloat(b, ms/3.6e6, 'g', 3, 64)
		return append(b, 'h')
	}
	total := int64(math.Round(sec))
	if total < 3600 {
		b = strconv.AppendInt(b, total/60, 10)
		b = append(b, 'm')
		b = append2(b, total%60)
		return append(b, 's')
	}
	min := (total + 30) / 60 // rounded, as the doc says: 7170s is 2h00m
	b = strconv.AppendInt(b, min/60, 10)
	b = append(b, 'h')
	b = append2(b, min%60)
	return append(b, 'm')
}

// append2 appends n (0..99) as two digits.
func append2(b []byte, n int64) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// Millis formats a duration given in milliseconds, as AppendMillis.
func Millis(ms float64) string { return string(AppendMillis(nil, ms)) }

// Duration formats d as AppendMillis does.
func Duration(d time.Duration) string {
	return Millis(float64(d) / float64(time.Millisecond))
}
