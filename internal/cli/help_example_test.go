package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpExamplesDoNotStopOnFailures: the main job exits 1 when some
// target failed, which most real lists have, so an example that chains the
// next step after it with && would skip that step just when it matters
// (a report about the failures).
func TestHelpExamplesDoNotStopOnFailures(t *testing.T) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, line := range strings.Split(c.Example, "\n") {
			steps := strings.Split(line, "&&")
			for _, step := range steps[:len(steps)-1] {
				if strings.HasPrefix(strings.TrimSpace(step), "fanout -") {
					t.Errorf("%s: example %q runs the next step only when every target succeeded", c.CommandPath(), strings.TrimSpace(line))
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(Env{}))
}
