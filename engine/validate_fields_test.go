package engine

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fanout/fanout/fetch"
)

// TestValidateNamesFields: each of Validate's errors is a *fetch.FieldError
// naming the field by its path in Config, as a Go program sets it, not the
// CLI's flag for it ("--concurrency" meant nothing to a library user).
func TestValidateNamesFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field, want string
		set         func(*Config)
	}{
		{"Limits.Concurrency", "Limits.Concurrency must be at least 1, got 0", func(c *Config) { c.Limits.Concurrency = 0 }},
		{"Limits.PerHost", "Limits.PerHost must be at least 1, got -1", func(c *Config) { c.Limits.PerHost = -1 }},
		{"Limits.Rate", "Limits.Rate must be a number not below 0 (0 is unlimited), got -1", func(c *Config) { c.Limits.Rate = -1 }},
		{"Limits.HostRate", "Limits.HostRate must be a number not below 0 (0 is unlimited), got NaN", func(c *Config) { c.Limits.HostRate = math.NaN() }},
		{"Limits.Window", "Limits.Window must not be negative, got -1", func(c *Config) { c.Limits.Window = -1 }},
		{"Limits.MaxHostErrors", "Limits.MaxHostErrors must not be negative, got -1", func(c *Config) { c.Limits.MaxHostErrors = -1 }},
		{"Limits.SkipFor", "Limits.SkipFor must not be negative, got -1s", func(c *Config) { c.Limits.SkipFor = -time.Second }},
		{"Retry.Max", "Retry.Max must not be negative, got -1", func(c *Config) { c.Retry.Max = -1 }},
		{"Retry.MaxWait", "Retry.MaxWait must not be negative, got -1s", func(c *Config) { c.Retry.MaxWait = -time.Second }},
		{"Retry.Base", "Retry.Base must be positive when Retry.Max is above 0", func(c *Config) { c.Retry.Base = 0 }},
		{"Retry.Cap", "Retry.Cap must not be below Retry.Base", func(c *Config) { c.Retry.Cap = c.Retry.Base / 2 }},
		{"Request.Timeout", "Request.Timeout must be positive (got 0s)", func(c *Config) { c.Request.Timeout = 0 }},
		{"Request.Method", `Request.Method "G T" is not a valid HTTP method`, func(c *Config) { c.Request.Method = "G T" }},
		{"Request.MaxIdle", "Request.MaxIdle must not be negative (got -1)", func(c *Config) { c.Request.MaxIdle = -1 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			c := DefaultConfig()
			tc.set(&c)
			err := c.Validate()
			var fe *fetch.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Validate() = %v, want a *fetch.FieldError for %s", err, tc.field)
			}
			if got := err.Error(); !strings.HasPrefix(got, tc.want) || strings.Contains(got, "--") || strings.Contains(got, "\n") {
				t.Errorf("Validate() = %q, want one error, %q, with no flag name", got, tc.want)
			}
		})
	}
}

// TestNewZeroConfig: Config{} is refused with every field at fault named
// by its path, and a pointer to DefaultConfig, the way to a working value;
// a Config from DefaultConfig gets no such pointer.
func TestNewZeroConfig(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	want := "Limits.Concurrency must be at least 1, got 0\n" +
		"Limits.PerHost must be at least 1, got 0\n" +
		"Request.Timeout must be positive (got 0s)\n" +
		"Request.ConnectTimeout must be positive (got 0s)\n" +
		"(zero values are not defaults: start from engine.DefaultConfig(), which has working values, and change what you need)"
	if err == nil || err.Error() != want {
		t.Errorf("New(Config{}) = %v, want\n%s", err, want)
	}
	// NewClient alike: it said fetch's hint, "start from fetch.DefaultOptions()".
	if _, err := NewClient(Config{}); err == nil || err.Error() != want {
		t.Errorf("NewClient(Config{}) = %v, want\n%s", err, want)
	}
	c := DefaultConfig()
	c.Limits.PerHost = -1
	if _, err := NewWithFetcher(c, newFake(nil)); err == nil || err.Error() != "Limits.PerHost must be at least 1, got -1" {
		t.Errorf("NewWithFetcher(PerHost -1) = %v, want only the field's error", err)
	}
}

// TestNewClientNamesFields: NewClient, for callers that wrap their own
// Fetcher around fetch's client, names a bad field by its path in Config
// too. fetch.NewClient joins Validate's errors (themselves joined) with a
// hint for a zero Options, and the fields inside that join kept their
// names in Options ("Timeout", not "Request.Timeout").
func TestNewClientNamesFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want []string
	}{
		{"one field", func(c *Config) { c.Request.MaxRedirects = -1 }, []string{"Request.MaxRedirects"}},
		{"zero timeouts, with the hint", func(c *Config) { c.Request.Timeout, c.Request.ConnectTimeout = 0, 0 },
			[]string{"Request.Timeout", "Request.ConnectTimeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.set(&c)
			_, err := NewClient(c)
			if err == nil {
				t.Fatal("NewClient() = nil error")
			}
			var got []string
			var walk func(error)
			walk = func(e error) {
				if fe, ok := e.(*fetch.FieldError); ok {
					got = append(got, fe.Field)
				}
				if j, ok := e.(interface{ Unwrap() []error }); ok {
					for _, x := range j.Unwrap() {
						walk(x)
					}
				}
			}
			walk(err)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("NewClient() = %q: fields %q, want %q", err, got, tc.want)
			}
		})
	}
}
