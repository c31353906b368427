//go:build !unix

package cli

import "github.com/fanout/fanout/engine"

// fitFileLimit does nothing where there is no rlimit.
func fitFileLimit(*engine.Config) string { return "" }
