package output

import "strconv"

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
