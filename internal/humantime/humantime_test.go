package humantime

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestMillis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ms   float64
		want string
	}{{0, "0ms"}, {0.0001, "0.01ms"}, {0.4, "0.40ms"}, {0.4714, "0.47ms"}, {0.9949, "0.99ms"}, {0.996, "1.0ms"},
		{6.74, "6.7ms"}, {9.94, "9.9ms"}, {9.96, "10ms"}, {123.4, "123ms"}, {999.4, "999ms"}, {999.6, "1.0s"},
		{1234, "1.2s"}, {1250, "1.2s"}, {3001, "3.0s"}, {12345, "12.3s"},
		{59940, "59.9s"}, {59960, "1m00s"}, {75000, "1m15s"}, {125000, "2m05s"}, {3599400, "59m59s"}, {3600000, "1h00m"}, {7170000, "2h00m"}, {7169000, "1h59m"},
		{1e13, "2777777h47m"}, {math.Inf(1), "∞"},
		{-5, "0ms"}, {math.NaN(), "0ms"}, {math.Inf(-1), "0ms"}} {
		if got := Millis(tc.ms); got != tc.want {
			t.Errorf("Millis(%v) = %q, want %q", tc.ms, got, tc.want)
		}
	}
	// Durations no fetch takes must still not overflow into a negative or
	// garbled text.
	for _, ms := range []float64{1e18, 1e22, 1e308} {
		if s := Millis(ms); strings.ContainsAny(s, "-(") || !strings.HasSuffix(s, "h") {
			t.Errorf("Millis(%v) = %q", ms, s)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "0ms"}, {470 * time.Microsecond, "0.47ms"}, {3001 * time.Millisecond, "3.0s"},
		{1237 * time.Millisecond, "1.2s"}, {65 * time.Second, "1m05s"}, {-time.Second, "0ms"}} {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
