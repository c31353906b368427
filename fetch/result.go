// Package fetch performs one HTTP exchange well: it turns a Target into a
// Result with status, timing, size, title and a classified error. It knows
// nothing of scheduling, retries across attempts, output formats or storage.
package fetch

import (
	"time"
)

// Target is one normalised input line. A Target whose Invalid field is set
// is not fetched: it yields a Result with error kind invalid_url.
type Target struct {
	// Seq is the target's position in the input, starting at 0. Results carry
	// it back so callers can reorder output or resume.
	Seq uint64
	// Input is the line as read (trimmed), reported back verbatim.
	Input string
	// URL is the normalised absolute http or https URL to fetch. For a bare
	// host (no scheme in the input) it is the https form.
	URL string
	// Bare is true when the input had no scheme: Fetch tries https first and
	// falls back to http when https cannot connect or the peer does not speak
	// TLS (unless the client disables fallback).
	Bare bool
	// HostKey is the scheduling key: lower-case host and port as written
	// after normalisation ("example.com:443").
	HostKey string
	// Invalid, when non-empty, says why the line is not a valid target.
	Invalid string
}

// Result is what happened to one target. Its JSON form is fanout's stable,
// documented result schema (see README.md).
type Result struct {
	Seq           uint64 `json:"-"`
	Input         string `json:"input"`
	URL           string `json:"url"`
	FinalURL      string `json:"final_url"`
	Status        int    `json:"status"`
	Proto         string `json:"proto"`
	Method        string `json:"method"`
	ContentType   string `json:"content_type"`
	ContentLength *int64 `json:"content_length"`
	Bytes         int64  `json:"bytes"`
	Truncated     bool   `json:"truncated"`
	Title         string `json:"title"`
	Server        string `json:"server"`
	IP            string `json:"ip"`
	BodySHA256    string `json:"body_sha256,omitempty"`
	Redirects     []Hop  `json:"redirects"`
	// Location is where the final response points when it is a redirect
	// that was not followed (--no-follow, --max-redirects, a loop, another
	// scheme), resolved against its URL; "" otherwise.
	Location  string    `json:"location,omitempty"`
	Attempts  int       `json:"attempts"`
	Timing    Timing    `json:"timing"`
	Error     *Error    `json:"error"`
	StartedAt time.Time `json:"started_at"`

	// RetryAfter is the delay the server asked for with a Retry-After header
	// on a 429 or 503 reply (0 when absent or unparseable). The engine reads
	// it to schedule a retry; it is not part of the output schema.
	RetryAfter time.Duration `json:"-"`
}

// Hop is one response that redirected: the URL requested and its status.
type Hop struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
}

// Timing holds the phases of the final hop in milliseconds, measured with
// net/http/httptrace. A reused connection shows zero dns, connect and tls.
// Total covers the whole target, all hops included, for the last attempt.
type Timing struct {
	DNS      float64 `json:"dns"`
	Connect  float64 `json:"connect"`
	TLS      float64 `json:"tls"`
	TTFB     float64 `json:"ttfb"`
	Transfer float64 `json:"transfer"`
	Total    float64 `json:"total"`
}

// Error is a classified failure. Kind is one of the ErrorKind constants;
// Message is a human-readable detail and may contain text from the network.
type Error struct {
	Kind    ErrorKind `json:"kind"`
	Message string    `json:"message"`
	// Transient marks a failure of a kind not retried as a rule that may
	// yet not happen again: a DNS lookup that timed out (a name that does
	// not exist is final). It is not part of the output.
	Transient bool `json:"-"`
}

// Error returns "kind: message", so that a result's error prints as one
// and may be returned where an error is wanted.
func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Kind)
	}
	return string(e.Kind) + ": " + e.Message
}

// ErrorKind classifies a failure so users can act on it. The set is fixed
// and documented; "other" is used only when no other kind fits.
type ErrorKind string

// The error kinds, classified by error type, never by message text.
const (
	KindInvalidURL       ErrorKind = "invalid_url"
	KindDNS              ErrorKind = "dns"
	KindRefused          ErrorKind = "refused"
	KindConnectTimeout   ErrorKind = "connect_timeout"
	KindTLS              ErrorKind = "tls"
	KindTimeout          ErrorKind = "timeout"
	KindReset            ErrorKind = "reset"
	KindProtocol         ErrorKind = "protocol"
	KindTooManyRedirects ErrorKind = "too_many_redirects"
	KindCanceled         ErrorKind = "canceled"
	KindLocal            ErrorKind = "local"
	KindOther            ErrorKind = "other"
)

// Kinds lists every error kind in a stable order, for summaries and docs.
var Kinds = []ErrorKind{
	KindInvalidURL, KindDNS, KindRefused, KindConnectTimeout, KindTLS,
	KindTimeout, KindReset, KindProtocol, KindTooManyRedirects, KindCanceled,
	KindLocal, KindOther,
}
