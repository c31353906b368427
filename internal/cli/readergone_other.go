//go:build !unix

package cli

import "io"

// watchReader learns nothing here: a closed pipe shows at the next write.
func watchReader(io.Writer) (gone <-chan error, stop func()) { return nil, func() {} }
