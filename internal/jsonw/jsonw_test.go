package jsonw

import (
	"encoding/json"
	"math"
	"math/rand/v2"
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
