package output

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain ascii", "https://example.com/a?b=c&d", "https://example.com/a?b=c&d"},
		{"empty", "", ""},
		{"unicode kept", "Café – 東京 ✓ \uFFFD", "Café – 東京 ✓ \uFFFD"},
		{"esc", "a\x1b[31mred", `a\x1b[31mred`},
		{"bel", "ding\a", `ding\a`},
		{"cr lf tab", "a\rb\nc\td", `a\rb\nc\td`},
		{"backspace", "ab\bc", `ab\bc`},
		{"nul and unit sep", "\x00\x1f", `\x00\x1f`},
		{"del", "a\x7fb", `a\x7fb`},
		{"c1 csi", "a\u009b31mb", `a\u009b31mb`},
		{"c1 first and last", "\u0080\u009f", `\u0080\u009f`},
		{"latin1 after c1 kept", "\u00a0é", "\u00a0é"},
		{"bidi override", "abc\u202Egnp.exe", `abc\u202egnp.exe`},
		{"bidi isolates and marks", "\u2066\u2069\u200e\u200f\u061c", `\u2066\u2069\u200e\u200f\u061c`},
		{"line separators", "a\u2028b\u2029", `a\u2028b\u2029`},
		{"invisible", "a\u200bb\u2060c\ufeffd", `a\u200bb\u2060c\ufeffd`},
		{"joiners kept", "👩\u200d💻 \u200c", "👩\u200d💻 \u200c"},
		{"soft hyphen and invisible operators", "pay\u00adpal\u2061\u2064\u180e", `pay\u00adpal\u2061\u2064\u180e`},
		{"deprecated format and annotation", "\u206a\u206f\ufff9\ufffb", `\u206a\u206f\ufff9\ufffb`},
		{"hangul fillers", "a\u3164b\u115f\u1160\uffa0", `a\u3164b\u115f\u1160\uffa0`},
		{"tag characters", "x\U000e0041\U000e007f", `x\U000e0041\U000e007f`},
		{"astral letters kept", "𝒜😀", "𝒜😀"},
		{"invalid utf8", "a\xffb\xc3", `a\xffb\xc3`},
		{"overlong", "\xc0\xaf", `\xc0\xaf`},
		{"surrogate", "\xed\xa0\x80", `\xed\xa0\x80`},
		{"backslash kept", `C:\path`, `C:\path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := string(AppendEscape([]byte("x"), tt.in)); got != "x"+tt.want {
				t.Errorf("AppendEscape(%q) = %q, want %q", tt.in, got, "x"+tt.want)
			}
		})
	}
}

func TestEscapeCleanDoesNotAllocate(t *testing.T) {
	for _, s := range []string{
		"https://example.com/some/long/path?query=1&x=2",
		"Ünïcödé títle — 東京",
	} {
		var out string
		allocs := testing.AllocsPerRun(100, func() { out = Escape(s) })
		if allocs != 0 {
			t.Errorf("Escape(%q) allocated %.1f times, want 0", s, allocs)
		}
		if out != s {
			t.Errorf("Escape(%q) = %q, want it unchanged", s, out)
		}
	}
}

// checkEscaped fails unless s is safe for a terminal: no C0 or DEL byte, no
// C1 rune, no bidi control, valid UTF-8.
func checkEscaped(t *testing.T, in, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("Escape(%q) = %q: not valid UTF-8", in, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			t.Fatalf("Escape(%q) = %q: control byte %#x at %d", in, s, c, i)
		}
	}
	for _, r := range s {
		if (r >= 0x80 && r <= 0x9f) || unsafeRune(r, utf8.RuneLen(r)) {
			t.Fatalf("Escape(%q) = %q: unsafe rune %U", in, s, r)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2J", "\u009b", "\u202e", "\xff\xfe", "a\r\nb", "\u00a0\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		checkEscaped(t, s, got)
		if cleanPrefix(s) == len(s) && got != s {
			t.Fatalf("Escape(%q) = %q, changed a clean string", s, got)
		}
		if want := string(AppendEscape(nil, s)); got != want {
			t.Fatalf("Escape(%q) = %q but AppendEscape gives %q", s, got, want)
		}
	})
}

func BenchmarkEscape(b *testing.B) {
	clean := "https://www.example.com/articles/2024/some-long-slug?utm_source=x&page=2"
	dirty := "Title with \x1b[31m colour \u202e and \xff bytes " + strings.Repeat("x", 40)
	for _, bc := range []struct{ name, s string }{{"clean", clean}, {"dirty", dirty}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.s)))
			for b.Loop() {
				_ = Escape(bc.s)
			}
		})
	}
}

// TestUnsafeRuneFastPath: the ranges unsafeRune passes without a table
// search hold no format character: it answers as the rules it documents,
// for every rune.
func TestUnsafeRuneFastPath(t *testing.T) {
	t.Parallel()
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue // surrogates do not decode
		}
		want := r <= 0x9f || r == 0x2028 || r == 0x2029 || r == 0x115f || r == 0x1160 || r == 0x3164 || r == 0xffa0 ||
			unicode.Is(unicode.Cf, r) && r != 0x200c && r != 0x200d
		if got := unsafeRune(r, utf8.RuneLen(r)); got != want {
			t.Errorf("unsafeRune(%U) = %v, want %v", r, got, want)
		}
	}
}
