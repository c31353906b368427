// Package humansize writes byte counts as people read them, in one form
// for every place fanout shows one: the text format, the summary, and the
// messages of fetch, which cannot import output.
package humansize

import "strconv"

// AppendBytes appends a byte count in decimal (SI) units: "0B", "512B",
// "4.5KB", "12KB", "1.2MB".
func AppendBytes(b []byte, n int64) []byte {
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

// Bytes is AppendBytes as a string.
func Bytes(n int64) string { return string(AppendBytes(nil, n)) }
