package jsonw

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestAppendFloatMatchesEncodingJSON: AppendFloat writes what encoding/json
// writes, on its fast path for timings (whole millionths) and off it.
func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	vals := []float64{0, 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 0.1, 0.2, 0.3, 1.000001, 999999999.999999, 1e9, 1e9 + 0.5,
		123.456789, 4.2949672950e9, 1e21, 1e20, 5e-324, math.MaxFloat64, -123.000001, 2.5, 1.0000005}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		d := time.Duration(r.Int64N(int64(20 * time.Minute)))
		vals = append(vals, float64(d)/float64(time.Millisecond), float64(d/time.Microsecond)/1e3)
		vals = append(vals, r.Float64()*1000, r.NormFloat64()*1e6, math.Round(r.Float64()*1e12)/1e6)
	}
	for _, v := range vals {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendFloat(nil, v); string(got) != string(want) {
			t.Fatalf("AppendFloat(%v) = %s, encoding/json writes %s", v, got, want)
		}
	}
}

// TestAppendRFC3339Nano: the same bytes as time's formatter for times
// across and beyond years 0 to 9999, in zones east and west of UTC, with
// and without fractions of a second.
func TestAppendRFC3339Nano(t *testing.T) {
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("E", 5*3600+30*60), time.FixedZone("W", -8*3600),
		time.FixedZone("odd", 7), time.FixedZone("far", -23*3600-59*60), time.FixedZone("absurd", 100*3600),
		time.FixedZone("absurder", -1000*3600-60)}
	times := []time.Time{{}, time.Unix(0, 0), time.Now(), time.Date(2026, 2, 28, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 29, 0, 0, 0, 1, time.UTC), time.Date(2000, 3, 1, 0, 0, 0, 100, time.UTC),
		time.Date(1900, 3, 1, 12, 0, 0, 120000000, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 500, time.UTC)}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		times = append(times, time.Unix(rng.Int64N(400*365*86400)-100*365*86400, rng.Int64N(1e9)))
		if rng.IntN(4) == 0 {
			times = append(times, time.Unix(rng.Int64N(1e12)-5e11, rng.Int64N(1e9)))
		}
	}
	for i, tm := range times {
		tm = tm.In(zones[i%len(zones)])
		if got, want := AppendRFC3339Nano(nil, tm), tm.AppendFormat(nil, time.RFC3339Nano); string(got) != string(want) {
			t.Fatalf("%v: got %s, want %s", tm, got, want)
		}
	}
}

// encodingJSONString is what encoding/json writes for s with HTML escaping
// off, the behaviour AppendString promises.
func encodingJSONString(t testing.TB, s string) string {
	var sb strings.Builder
	e := json.NewEncoder(&sb)
	e.SetEscapeHTML(false)
	if err := e.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// TestAppendStringMatchesEncodingJSON: every byte that needs escaping, at
// every place of an eight-byte word (AppendString passes plain ASCII a word
// at a time) and in strings of every length around a word.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	specials := []string{"\"", "\\", "\x00", "\x1f", "\n", "\t", "\x7f", " ", "~", "é", "\u2028", "\u2029",
		"\xff", "\xe2\x80", "日本", "<>&", "\U0001F600"}
	var cases []string
	for n := 0; n <= 24; n++ {
		cases = append(cases, strings.Repeat("a", n))
		for _, sp := range specials {
			for at := 0; at <= n; at++ {
				cases = append(cases, strings.Repeat("a", at)+sp+strings.Repeat("b", n-at))
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
			if r.IntN(4) > 0 {
				b[i] = byte(0x20 + r.IntN(0x5f)) // mostly printable ASCII
			}
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := string(AppendString(nil, s)), encodingJSONString(t, s); got != want {
			t.Fatalf("AppendString(%q) = %s, encoding/json writes %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("https://example.com/a?b=c&d=\"e\"")
	f.Add("\xe2\x80\xa8 title\twith\\ \x01")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendString(nil, s)), encodingJSONString(t, s); got != want {
			t.Fatalf("AppendString(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}
