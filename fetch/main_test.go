package fetch

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// client and server a test starts must be shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
