package engine

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/fanout/fanout/fetch"
)

// Config is everything the engine needs for a run. Build it with
// DefaultConfig and change what you need; Validate reports every problem.
type Config struct {
	// Limits bound concurrency, rates and the look-ahead window.
	Limits Limits
	// Retry says which failures are tried again and how long to wait.
	Retry Retry
	// Request is how each request is made (method, headers, timeouts,
	// TLS, redirects, body cap). New builds its fetch.Client from it;
	// NewWithFetcher only validates it.
	Request fetch.Options
}

// Limits bound how hard the run presses, overall and per host.
type Limits struct {
	// Concurrency is the number of attempts in flight at once (-c).
	Concurrency int
	// PerHost is the number of attempts in flight per host key (--per-host).
	PerHost int
	// Rate caps attempts started per second overall (--rate); 0 is unlimited.
	Rate float64
	// HostRate caps attempts started per second per host key (--host-rate);
	// 0 is unlimited.
	HostRate float64
	// Window is how many targets may be read ahead of the ones finished:
	// queued, waiting for a retry or in flight. It bounds memory and is what
	// lets the engine run past a saturated host. 0 means DefaultWindow(c).
	Window int
	// MaxHostErrors is how many attempts in a row may fail at a host
	// itself (refused, connect_timeout, a timeout or a reset before any
	// reply, a timeout reading the body, a dns lookup that timed out, a
	// 429, or a 503 with Retry-After) before its other targets are
	// skipped: each gets a result of kind skipped, without a request, for
	// SkipFor
	// (--max-host-errors). So may fewer, from MinHostErrors on, that have
	// kept failing for HostFailingPer times MaxHostErrors: a host that
	// answers 429 with Retry-After: 30 costs that long per attempt. Any
	// other answer from the host starts the count again. After SkipFor the
	// host is tried again, and its first failure skips it again. A host
	// asking with Retry-After for longer than Retry.MaxWait is skipped at
	// once, for as long as it asked. 0 never skips.
	MaxHostErrors int
	// SkipFor is how long a host's targets are skipped once it reached
	// MaxHostErrors; 0 means DefaultSkipFor.
	SkipFor time.Duration
}

// DefaultSkipFor is Limits.SkipFor's default. Long enough that a dead host
// costs a few requests per period rather than a worker's time per target,
// short enough that one back from an outage is fetched again within a
// long run.
const DefaultSkipFor = 5 * time.Minute

// MinHostErrors and HostFailingPer are the other way to
// Limits.MaxHostErrors: that many failed attempts in a row, the first of
// them HostFailingPer times MaxHostErrors ago (a minute at 30), so that a
// user who raises --max-host-errors to be patient gets more time too.
const (
	MinHostErrors  = 3
	HostFailingPer = 2 * time.Second
)

// skipFor returns the effective SkipFor.
func (l Limits) skipFor() time.Duration { return cmp.Or(l.SkipFor, DefaultSkipFor) }

// Retry says which failures are tried again and how long to wait.
type Retry struct {
	// Max is the number of retries after the first attempt (--retries); 0
	// makes one attempt per target. Retried are the error kinds refused,
	// connect_timeout and local, a dns lookup that timed out, and statuses
	// 429 and 503; for an idempotent method (GET, HEAD, PUT, DELETE, ...)
	// also timeout, reset, 502 and 504. A request with another method is
	// never retried after a redirect. The result is the last attempt's.
	Max int
	// MaxWait is the longest Retry-After the engine waits for
	// (--max-retry-wait). A server asking for longer gets no retry: its
	// reply is the result, and unless MaxHostErrors is 0 its host's other
	// targets are skipped for as long as it asked.
	MaxWait time.Duration
	// Base and Cap shape the exponential backoff with full jitter used when
	// the server gives no Retry-After: a uniform wait in
	// [0, min(Cap, Base·2^(n-1))) before retry n. Both must be positive,
	// Base <= Cap, when Max > 0.
	Base time.Duration
	// Cap is the longest backoff wait; see Base.
	Cap time.Duration
}

// DefaultConfig returns the defaults documented in README.md.
func DefaultConfig() Config {
	return Config{
		Limits: Limits{Concurrency: 50, PerHost: 6, MaxHostErrors: 30},
		Retry: Retry{
			Max:     2,
			MaxWait: 30 * time.Second,
			Base:    250 * time.Millisecond,
			Cap:     10 * time.Second,
		},
		Request: fetch.DefaultOptions(),
	}
}

// DefaultWindow is the look-ahead used when Limits.Window is 0: 16 targets
// per unit of concurrency and never fewer than 10,000, so one host at its
// per-host limit cannot starve the workers of the next thousands of lines.
func DefaultWindow(concurrency int) int {
	return max(10_000, 16*concurrency)
}

// window returns the effective look-ahead.
func (l Limits) window() int {
	if l.Window > 0 {
		return l.Window
	}
	return DefaultWindow(l.Concurrency)
}

// Validate returns every problem with c, joined with errors.Join: each is
// a *fetch.FieldError naming the field at fault by its path in Config
// ("Limits.Concurrency", "Request.Timeout").
func (c Config) Validate() error {
	var errs []error
	if c.Limits.Concurrency < 1 {
		errs = append(errs, fieldError("Limits.Concurrency", "must be at least 1, got %d", c.Limits.Concurrency))
	}
	if c.Limits.PerHost < 1 {
		errs = append(errs, fieldError("Limits.PerHost", "must be at least 1, got %d", c.Limits.PerHost))
	}
	if !(c.Limits.Rate >= 0) { // NaN too
		errs = append(errs, fieldError("Limits.Rate", "must be a number not below 0 (0 is unlimited), got %g", c.Limits.Rate))
	}
	if !(c.Limits.HostRate >= 0) { // NaN too
		errs = append(errs, fieldError("Limits.HostRate", "must be a number not below 0 (0 is unlimited), got %g", c.Limits.HostRate))
	}
	if c.Limits.Window < 0 {
		errs = append(errs, fieldError("Limits.Window", "must not be negative, got %d", c.Limits.Window))
	}
	if c.Limits.MaxHostErrors < 0 {
		errs = append(errs, fieldError("Limits.MaxHostErrors", "must not be negative, got %d", c.Limits.MaxHostErrors))
	}
	if c.Limits.SkipFor < 0 {
		errs = append(errs, fieldError("Limits.SkipFor", "must not be negative, got %s", c.Limits.SkipFor))
	}
	if c.Retry.Max < 0 {
		errs = append(errs, fieldError("Retry.Max", "must not be negative, got %d", c.Retry.Max))
	}
	if c.Retry.MaxWait < 0 {
		errs = append(errs, fieldError("Retry.MaxWait", "must not be negative, got %s", c.Retry.MaxWait))
	}
	// Without retries the backoff is never used: Retry{} says "none".
	if c.Retry.Max > 0 && c.Retry.Base <= 0 {
		errs = append(errs, fieldError("Retry.Base", "must be positive when Retry.Max is above 0 (the backoff needs 0 < Base <= Cap), got %s", c.Retry.Base))
	}
	if c.Retry.Max > 0 && c.Retry.Base > 0 && c.Retry.Cap < c.Retry.Base {
		errs = append(errs, fieldError("Retry.Cap", "must not be below Retry.Base (the backoff needs 0 < Base <= Cap), got %s below %s", c.Retry.Cap, c.Retry.Base))
	}
	if err := c.Request.Validate(); err != nil {
		errs = append(errs, underRequest(err))
	}
	return errors.Join(errs...)
}

// underRequest renames the fields fetch's err names, from fetch.Options,
// to their path in Config: Timeout is Request.Timeout. It looks into
// joins within joins: fetch.NewClient joins Validate's joined errors with
// a hint, and those inside were left named as in Options.
func underRequest(err error) error {
	if fe, ok := err.(*fetch.FieldError); ok {
		return &fetch.FieldError{Field: "Request." + fe.Field, Err: fe.Err}
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	var errs []error
	for _, e := range j.Unwrap() {
		errs = append(errs, underRequest(e))
	}
	return errors.Join(errs...)
}

// fieldError returns a *fetch.FieldError for field, its Err formatted from
// format and args. Every check in Validate calls it with the field's
// name as a literal: that is how internal/cli's test finds every field it
// must have a flag for.
func fieldError(field, format string, args ...any) error {
	return &fetch.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
