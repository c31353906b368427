package humansize

import "testing"

// TestBytes: the form the summary, the text format and fetch's messages share.
func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1.0KB", 4096: "4.1KB", 1 << 20: "1.0MB", 12345678: "12MB", 9_940: "9.9KB", 9_950: "10KB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
