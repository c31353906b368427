package cli

import (
	"testing"
	"time"
)

func TestDurationValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"1e-3", time.Millisecond, true},
		{"0", 0, true},
		{"-1", -time.Second, true}, // each flag's own check refuses it with its words
		{"5s", 5 * time.Second, true},
		{"1.5s", 1500 * time.Millisecond, true},
		{"2m", 2 * time.Minute, true},
		{"500ms", 500 * time.Millisecond, true},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"1e20", 0, false},
		{"9223372036.854775807", 0, false}, // time.Duration's limit: the product rounds past it
		{"9223372036", 9223372036 * time.Second, true},
		{"five", 0, false},
		{"5 s", 0, false},
		{"", 0, false},
	} {
		d := 7 * time.Second
		err := (*durationValue)(&d).Set(c.in)
		if (err == nil) != c.ok || c.ok && d != c.want {
			t.Errorf("Set(%q) = %v, err %v; want %v, ok %v", c.in, d, err, c.want, c.ok)
		}
		if !c.ok && d != 7*time.Second {
			t.Errorf("Set(%q) failed but changed the value to %v", c.in, d)
		}
	}
}
