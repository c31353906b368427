package dist

import (
	"strings"
	"testing"
)

// A password with a '/', '?' or '#' that the URL parser reads as the end of
// the authority (here after a password prefix that passes for a port)
// leaves no user information to redact: the URL must not be printed as is.
func TestRedactPasswordTheParserMisreads(t *testing.T) {
	for _, in := range []string{
		"nats://alice:2024/s3cret@nats.example:4222",
		"alice:2024/s3cret@nats.example:4222",
		"nats://alice:2024?s3cret@nats.example:4222",
		"nats://alice:2024#s3cret@nats.example:4222",
		"nats://a.example:4222,nats://alice:2024/s3cret@nats.example:4222",
	} {
		if got := Redact(in); strings.Contains(got, "s3cret") || strings.Contains(got, "2024") {
			t.Errorf("Redact(%q) = %q: the password shows", in, got)
		}
	}
	for in, want := range map[string]string{
		"nats://alice:pw@nats.example:4222": "nats://redacted@nats.example:4222",
		"nats://nats.example:4222":          "nats://nats.example:4222",
		"nats.example:4222":                 "nats.example:4222",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
