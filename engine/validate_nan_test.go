package engine

import (
	"math"
	"strings"
	"testing"
)

// TestValidateRejectsNaNRates: --rate NaN and --host-rate NaN parse as
// floats, and NaN < 0 is false, so they passed as "unlimited" without a
// word: a typo'd rate silently became no limit at all.
func TestValidateRejectsNaNRates(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	c.Limits.Rate, c.Limits.HostRate = math.NaN(), math.NaN()
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil for NaN rates, want errors")
	}
	for _, flag := range []string{"Limits.Rate", "Limits.HostRate"} {
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("error %q does not name %s", err, flag)
		}
	}
}
