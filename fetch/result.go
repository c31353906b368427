// Package fetch performs one HTTP exchange well: it turns a Target into a
// Result with status, timing, size, title and a classified error. It knows
// nothing of scheduling, retries across attempts, output formats or storage.
//
// Start with DefaultOptions, change what you need and make a Client with
// NewClient; Client.Fetch makes one attempt at a Target and always returns a
// Result: a failed request is data in Result.Error (an Error with one of the
// Kind constants), never a returned error. A Target usually comes from
// package input (input.Parse, input.NewReader), which normalises the line
// and fills HostKey; to fetch many targets with limits and retries, use
// package engine, which calls a Client for you. Options.Validate names a
// bad field in a *FieldError; Options.Prepare edits each request before it
// is sent (a token per host).
package fetch

import (
	"net/http"
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
	// HostKey is the scheduling key: lower-case host and port after
	// normalisation ("example.com:443"), with spellings of one host made
	// one, as HostKeyOf derives it from a URL ("[::ffff:10.0.0.1]:80"
	// is "10.0.0.1:80", "example.com.:443" is "example.com:443").
	HostKey string
	// Invalid, when non-empty, says why the line is not a valid target.
	Invalid string
}

// Result is what happened to one target. Its JSON form is fanout's stable,
// documented result schema (see README.md), but for the "accepted" field
// that package output's jsonl format adds: whether a result is a success
// is the caller's rule, not the fetch's.
type Result struct {
	// Seq is the target's Seq, copied back so that results, which arrive
	// as they complete, can be put in input order. Not in the JSON form.
	Seq uint64 `json:"-"`
	// Input is the target's line as read (trimmed).
	Input string `json:"input"`
	// URL is the normalised URL fetched. For a bare host it is the form
	// that answered: the https URL, or the http one after a fallback.
	// For an invalid target it is the Target's URL, usually "".
	URL string `json:"url"`
	// FinalURL is the URL of the last request made: after redirects, the
	// last response's URL, or the hop that got no response when a
	// redirect led to a host that failed. "" when no request was made
	// (an invalid target).
	FinalURL string `json:"final_url"`
	// Status is the last HTTP status received, whatever else happened (a
	// redirect loop keeps its 3xx, a body that does not decode keeps its
	// 200). It is 0 only when no response arrived.
	Status int `json:"status"`
	// Proto is the last response's protocol, "HTTP/1.1" or "HTTP/2.0";
	// "" when no response arrived.
	Proto string `json:"proto"`
	// Method is the method of the first request (a 301, 302 or 303 may
	// turn later hops into GET); "" when no request was made.
	Method string `json:"method"`
	// ContentType is the last response's Content-Type header, as sent,
	// cut to 1 KiB followed by "..." if it is longer (as is Server).
	ContentType string `json:"content_type"`
	// ContentLength is the last response's Content-Length header as sent,
	// nil when it had none (or one that is not a number of bytes). It
	// may differ from Bytes: a compressed, cut or short body.
	ContentLength *int64 `json:"content_length"`
	// ContentEncoding names the content codings that were undone to get
	// the body that Bytes counts, BodySHA256 hashes and Options.SaveDir
	// keeps (those are the decoded bytes): "gzip", "br", "deflate" or
	// "zstd" ("x-gzip" is "gzip"), several in the order the server applied
	// them, joined with ", ". "" when the body was read as sent: no
	// coding, "identity", an unknown coding (passed through undecoded),
	// or an empty body.
	ContentEncoding string `json:"content_encoding,omitempty"`
	// Bytes counts the decoded body bytes read from the last response, at
	// most Options.MaxBody (the bodies of redirects followed do not count).
	Bytes int64 `json:"bytes"`
	// Truncated is true when the body was longer than Options.MaxBody and
	// was cut there.
	Truncated bool `json:"truncated"`
	// Title is the text of the HTML <title> of the last response (see
	// the Title function), found in its first 256 KiB; "" when the
	// response is not HTML or has none. It has at most 1024 runes; one
	// cut to that ends with "…" (U+2026).
	Title string `json:"title"`
	// Server is the last response's Server header, cut as ContentType.
	Server string `json:"server"`
	// IP is the remote address, without port, of the connection the last
	// hop used (a proxy's, through a proxy); "" when no connection was
	// made.
	IP string `json:"ip"`
	// BodySHA256 is the lower-case hex SHA-256 of the Bytes decoded bytes
	// read; "" when there were none.
	BodySHA256 string `json:"body_sha256,omitempty"`
	// Saved is true when the body is in Options.SaveDir, under the name
	// BodySHA256 gives it (SaveDir/ab/abcdef...): it was read whole, or
	// cut at MaxBody (then Truncated says so). A body whose read failed,
	// an empty body and a run without SaveDir leave it false.
	Saved bool `json:"saved,omitempty"`
	// Worker is the ID of the distributed worker (fanout worker --id)
	// that fetched the target, "" in a local run: with worker --save, the
	// machine whose directory holds the body.
	Worker string `json:"worker,omitempty"`
	// Header holds the last response's header fields when
	// Options.ResponseHeaders is set, nil otherwise. Names are in Go's
	// canonical form ("Etag", "Set-Cookie"; HTTP/2's lower-case names
	// too), and each name keeps every value it was sent with, in order:
	// a joined string would lose the boundaries between Set-Cookie values,
	// whose dates hold commas. Its JSON form is an object of arrays, names
	// sorted. At most 32 KiB of names and values, and 512 values, are
	// kept (see HeadersTruncated).
	Header http.Header `json:"headers,omitempty"`
	// HeadersTruncated is true when the last response's headers passed
	// the 32 KiB (or 512 values) a result keeps: Header then lacks the
	// values that did not fit, taken in name order.
	HeadersTruncated bool `json:"headers_truncated,omitempty"`
	// Redirects lists each response that redirected, in order: the URL
	// requested and its status. A redirect that was not followed (see
	// Location) is listed too, as the last entry, and is then also the
	// final response. nil when no response redirected.
	Redirects []Hop `json:"redirects"`
	// Location is where the final response points when it is a redirect
	// that was not followed (Options.Follow false, more than
	// Options.MaxRedirects, a loop, another scheme, a URL longer than 8 KiB),
	// resolved against its URL and cut to 8 KiB followed by "..."; ""
	// otherwise.
	Location string `json:"location,omitempty"`
	// Attempts is the number of attempts made: retries + 1. Client.Fetch
	// always sets 1; the engine counts its retries, and gives 0 to a
	// target that never started (invalid, or canceled while queued).
	Attempts int `json:"attempts"`
	// Timing holds the phases of the last attempt, in milliseconds.
	Timing Timing `json:"timing"`
	// Error is nil when the exchange completed, whatever the status;
	// otherwise it says, by kind, why the target failed. A 404 is not an
	// error: deciding which statuses are a success is the caller's
	// business (package output's Accept).
	Error *Error `json:"error"`
	// StartedAt is when the last attempt started; for a target that never
	// started, when its result was made.
	StartedAt time.Time `json:"started_at"`

	// RetryAfter is the delay the server asked for with a Retry-After header
	// on a 429 or 503 reply (0 when absent or unparseable). The engine reads
	// it to schedule a retry; it is not part of the output schema.
	RetryAfter time.Duration `json:"-"`
}

// Hop is one response that redirected: the URL requested and its status.
type Hop struct {
	// URL is the URL that was requested and answered with a redirect.
	URL string `json:"url"`
	// Status is that response's status: 301, 302, 303, 307, 308 or 300.
	Status int `json:"status"`
}

// Timing holds the phases of the final hop in milliseconds, measured with
// net/http/httptrace. A reused connection shows zero dns, connect and tls.
// Total covers the whole target, all hops included, for the last attempt.
//
// A phase that did not happen, or did not finish, is 0: no TLS on http,
// no TTFB when no response arrived. For the final hop DNS + Connect + TLS + TTFB + Transfer add up
// to about its duration.
type Timing struct {
	// DNS is the name lookup of the final hop's new connection; 0 for an
	// IP literal, an address pinned with Options.Resolve, or a name the
	// Client's DNS cache already held.
	DNS float64 `json:"dns"`
	// Connect is the TCP connect (through a proxy, to the proxy).
	Connect float64 `json:"connect"`
	// TLS is the TLS handshake.
	TLS float64 `json:"tls"`
	// TTFB runs from getting a connection (new or reused) to the first
	// response byte: writing the request and the server's think time.
	TTFB float64 `json:"ttfb"`
	// Transfer runs from the first response byte to the end of the body
	// read (at most Options.MaxBody bytes).
	Transfer float64 `json:"transfer"`
	// Total is the whole attempt, all hops and a fallback to http
	// included; it is set even when the attempt failed.
	Total float64 `json:"total"`
}

// Error is a classified failure. Kind is one of the ErrorKind constants;
// Message is a human-readable detail and may contain text from the network.
type Error struct {
	// Kind is what went wrong, one of the Kind constants.
	Kind ErrorKind `json:"kind"`
	// Message is a short detail for people. It may quote text from the
	// network (escape it before printing it to a terminal: output.Escape);
	// never classify by it, use Kind.
	Message string `json:"message"`
	// Transient marks a failure of a kind not retried as a rule that may
	// yet not happen again: a DNS lookup that timed out (a name that does
	// not exist is final). It is not part of the output.
	Transient bool `json:"-"`
	// Permanent marks a failure of a kind retried as a rule that will
	// recur on every attempt: a proxy that answered the tunnel request
	// with a 4xx (407: it wants other credentials). It is not part of the
	// output.
	Permanent bool `json:"-"`
	// Proxy marks a failure of the proxy on the way rather than the
	// target: an http(s) proxy that could not be reached or did not
	// answer the tunnel request. It is not part of the output.
	Proxy bool `json:"-"`
	// Save marks a body that was read but could not be written to
	// Options.SaveDir (a full disk, a directory gone): kind local, and
	// Permanent. The exchange itself went well; a caller that must have
	// every body (the CLI) stops on it. It is not part of the output.
	Save bool `json:"-"`
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

// The error kinds, classified by error type, never by message text. The
// string values are stable: they are what the jsonl and csv formats and the
// store write.
const (
	// KindInvalidURL: the input is not an http(s) target (Target.Invalid),
	// or a redirect pointed to another scheme, an unparseable Location or an
	// IPv4 address not written dotted-quad.
	KindInvalidURL ErrorKind = "invalid_url"
	// KindDNS: the host name could not be resolved. Error.Transient is
	// set when the lookup timed out rather than found no such name.
	KindDNS ErrorKind = "dns"
	// KindRefused: the connection was refused, the host or its network is
	// unreachable, or a proxy refused the tunnel to an https target.
	KindRefused ErrorKind = "refused"
	// KindConnectTimeout: no connection (or no TLS handshake, or no
	// answer to a proxy's CONNECT) within Options.ConnectTimeout.
	KindConnectTimeout ErrorKind = "connect_timeout"
	// KindTLS: the TLS handshake failed: an untrusted, expired or
	// mismatched certificate, a missing client certificate, or a TLS
	// protocol error.
	KindTLS ErrorKind = "tls"
	// KindTimeout: the attempt ran out of Options.Timeout (or the
	// caller's context deadline passed); the message says in which phase.
	KindTimeout ErrorKind = "timeout"
	// KindReset: the connection was reset or closed before the reply was
	// complete, or an HTTP/2 server kept refusing the request's stream.
	KindReset ErrorKind = "reset"
	// KindProtocol: the server broke HTTP: a malformed status line or
	// header, a body that does not decode, an unasked-for 101.
	KindProtocol ErrorKind = "protocol"
	// KindTooManyRedirects: more than Options.MaxRedirects redirects, or
	// a redirect loop.
	KindTooManyRedirects ErrorKind = "too_many_redirects"
	// KindCanceled: the caller's context was canceled, or the run was
	// drained or stopped before this target finished.
	KindCanceled ErrorKind = "canceled"
	// KindSkipped: the target was not fetched because its host had
	// failed too many attempts in a row (engine Limits.MaxHostErrors); the
	// message names the last failure. Or, with a status and Location, a
	// redirect to such a host was not followed (WithHopGate).
	KindSkipped ErrorKind = "skipped"
	// KindLocal: this machine lacks something a connection needs (file
	// descriptors, ephemeral ports, an address to connect from, socket
	// buffers or memory); the target is not at fault. Also a body read
	// whole that could not be saved to Options.SaveDir (Error.Save), and
	// a request Options.Prepare refused (Error.Permanent).
	KindLocal ErrorKind = "local"
	// KindOther: none of the above, a fetcher that panicked included.
	KindOther ErrorKind = "other"
	// KindMismatch: the final response's body lacks a string of
	// Options.Match (in the bytes read, at most MaxBody); the status is
	// kept. Another attempt would get the same body: it is not retried.
	KindMismatch ErrorKind = "mismatch"
)

// Kinds lists every error kind in a stable order, for summaries and docs;
// a kind added later goes at the end. It is for reading: the packages that
// use it (output, report) keep their own copy, so changing it changes none of
// their output.
var Kinds = []ErrorKind{
	KindInvalidURL, KindDNS, KindRefused, KindConnectTimeout, KindTLS,
	KindTimeout, KindReset, KindProtocol, KindTooManyRedirects, KindCanceled,
	KindLocal, KindOther, KindSkipped, KindMismatch,
}
