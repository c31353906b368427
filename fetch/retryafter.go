package fetch

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps what a server may ask for, so an absurd header cannot
// park a target for days.
const maxRetryAfter = 24 * time.Hour

// ParseRetryAfter parses a Retry-After header value: delta-seconds ("120")
// or an HTTP-date, taken relative to now. A date in the past or a negative
// number gives 0; anything above 24h is capped at 24h. ok is false (and the
// duration 0) when v is neither form.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isInteger(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			// Only overflow gets here: a huge number of seconds.
			if v[0] == '-' {
				return 0, true
			}
			return maxRetryAfter, true
		}
		if secs <= 0 {
			return 0, true
		}
		if secs >= int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > maxRetryAfter:
		return maxRetryAfter, true
	}
	return d, true
}

// isInteger reports whether s is an optionally signed run of ASCII digits.
func isInteger(s string) bool {
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
