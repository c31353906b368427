package dist

import (
	"strings"
	"testing"
)

func TestRunNameRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"nightly-2026_11_28", true},
		{"ABC-xyz_09", true},
		{strings.Repeat("r", 64), true},
		{"", false},
		{strings.Repeat("r", 65), false},
		{"has space", false},
		{"dot.ted", false},
		{"slash/name", false},
		{"star*", false},
		{"gt>", false},
		{"é", false},
		{"tab\t", false},
	} {
		c := DefaultRunConfig()
		c.Name = tc.name
		err := c.Validate()
		if got := err == nil; got != tc.ok {
			t.Errorf("Validate with --run %q: %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--run") {
			t.Errorf("Validate with --run %q: %v, want an error naming --run", tc.name, err)
		}
	}
}
