//go:build !unix

package coreshare

import "errors"

type member struct{}

// errUnsupported is join's error where there is no flock(2): Run then
// returns nil at once, and the process keeps its Ps without a word.
var errUnsupported = errors.New("sharing cores: no flock(2) on this system")

func join(string) (*member, error) { return nil, errUnsupported }

func (*member) hold(bool) error     { return nil }
func (*member) leave()              {}
func (*member) count() (int, error) { return 1, nil }
