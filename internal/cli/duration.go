package cli

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// durationValue is a duration flag that also takes a bare number of
// seconds, as curl's --max-time and --connect-timeout and httpx's -timeout
// do: "5" is 5s and "0.5" is 500ms; "5s", "500ms" and "2m" are Go
// durations. Users of those tools type "--timeout 5" and mean seconds.
type durationValue time.Duration

// durationVar defines a flag like fs.DurationVar that takes bare seconds too.
func durationVar(fs *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

func (d *durationValue) Set(s string) error {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		// ParseFloat also reads "NaN", "Inf" and hex floats; only
		// finite numbers within time.Duration's range are seconds.
		if math.IsNaN(f) || math.Abs(f) >= math.MaxInt64/float64(time.Second) {
			return fmt.Errorf("%s seconds is not a duration fanout can wait", s)
		}
		*d = durationValue(time.Duration(math.Round(f * float64(time.Second))))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("give seconds or a duration with a unit: 5, 0.5, 5s, 500ms, 2m")
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) Type() string   { return "duration" }
func (d *durationValue) String() string { return time.Duration(*d).String() }
