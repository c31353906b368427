package output

import "github.com/fanout/fanout/internal/humansize"

// appendBytes appends a byte count in decimal (SI) units: "0B", "512B",
// "4.5KB", "12KB", "1.2MB".
func appendBytes(b []byte, n int64) []byte { return humansize.AppendBytes(b, n) }

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
