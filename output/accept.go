package output

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fanout/fanout/fetch"
)

// minStatus and maxStatus bound the status codes an Accept can name: HTTP
// status codes have three digits and start at 100 (status 0, no response,
// always comes with an error and is never accepted).
const (
	minStatus = 100
	maxStatus = 999
)

// defaultAcceptSpec is the default --accept value, in lychee's syntax.
const defaultAcceptSpec = "200..=399"

// Accept decides which results count as success. It holds a set of status
// codes written in lychee's range syntax. The zero Accept behaves as
// DefaultAccept. Accept is a small value, safe to copy and to share between
// goroutines.
type Accept struct {
	set  [(maxStatus + 64) / 64]uint64
	spec string // canonical form; "" means the zero value (the default)
}

// DefaultAccept returns the default rule, "200..=399": every 2xx and 3xx
// status is success.
func DefaultAccept() Accept {
	a, err := ParseAccept(defaultAcceptSpec)
	if err != nil {
		panic(err) // the constant above is valid; a test keeps it so
	}
	return a
}

// ParseAccept parses a comma-separated list of status codes and ranges in
// lychee's syntax: "200", "200..300" (end excluded), "200..=299" (end
// included), "..=204", "..204" (from 100), "300.." (up to 999). Every
// bound is a status 100-999, as the error says. Whitespace around
// pieces and bounds is ignored. The error names the first bad piece.
func ParseAccept(s string) (Accept, error) {
	var a Accept
	if strings.TrimSpace(s) == "" {
		return a, fmt.Errorf("--accept: empty list of status codes")
	}
	pieces := strings.Split(s, ",")
	canon := make([]string, 0, len(pieces))
	for _, p := range pieces {
		p = strings.TrimSpace(p)
		lo, hi, err := parseAcceptRange(p)
		if err != nil {
			return Accept{}, err
		}
		for c := lo; c <= hi; c++ {
			a.set[c>>6] |= 1 << (c & 63)
		}
		canon = append(canon, strings.Join(strings.Fields(p), ""))
	}
	a.spec = strings.Join(canon, ",")
	return a, nil
}

// parseAcceptRange parses one trimmed piece into an inclusive range.
func parseAcceptRange(p string) (lo, hi int, err error) {
	bad := func(why string) (int, int, error) {
		if why != "" {
			return 0, 0, fmt.Errorf("--accept: bad range %q: %s", p, why)
		}
		return 0, 0, fmt.Errorf("--accept: bad range %q: want a status 100-999 (200), a range (200..300 ends before 300, 200..=299 includes it), comma-separated", p)
	}
	left, right, isRange := strings.Cut(p, "..")
	if !isRange {
		n, ok := parseStatus(p)
		if !ok {
			return bad("")
		}
		return n, n, nil
	}
	right = strings.TrimLeft(right, " \t")
	inclusive := strings.HasPrefix(right, "=")
	if inclusive {
		right = right[1:]
	}
	left, right = strings.TrimSpace(left), strings.TrimSpace(right)
	lo, hi = minStatus, maxStatus
	if left != "" {
		n, ok := parseStatus(left)
		if !ok {
			return bad("")
		}
		lo = n
	}
	switch {
	case right == "" && (inclusive || left == ""):
		return bad("") // "200..=" and ".." name no end
	case right != "":
		n, ok := parseStatus(right)
		if !ok {
			return bad("")
		}
		hi = n
		if !inclusive {
			hi--
		}
	}
	if lo > hi {
		return bad("empty range")
	}
	return lo, hi, nil
}

// parseStatus parses a status code: three decimal digits, 100-999. A
// smaller bound ("0..", "99") is refused rather than taken to name statuses
// that cannot occur.
func parseStatus(s string) (int, bool) {
	if s == "" || len(s) > 3 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= minStatus
}

// Status reports whether the status code is accepted.
func (a Accept) Status(code int) bool {
	if a.spec == "" {
		return code >= 200 && code <= 399
	}
	if code < 0 || code > maxStatus {
		return false
	}
	return a.set[code>>6]&(1<<(code&63)) != 0
}

// OK reports whether a result counts as success: it carries no error and its
// status is accepted. A result with an error is never accepted, whatever its
// status (README.md, the result schema's error field).
func (a Accept) OK(r *fetch.Result) bool {
	return r.Error == nil && a.Status(r.Status)
}

// String returns the rule in lychee's syntax, without whitespace.
func (a Accept) String() string {
	if a.spec == "" {
		return defaultAcceptSpec
	}
	return a.spec
}
