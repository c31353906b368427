package cli

import (
	"errors"
	"fmt"

	"github.com/fanout/fanout/fetch"
)

// fieldFlags maps each engine.Config field that Validate (or New) can
// name in a *fetch.FieldError to the flag that sets it, which is the name
// a CLI user knows. "" marks a field no flag sets: the CLI never gives it
// a bad value, and if it did, the field's own name is the best report of
// that bug. TestFieldFlagsCoverValidate fails when a check names a field
// missing here.
var fieldFlags = map[string]string{
	"Limits.Concurrency":     "--concurrency",
	"Limits.PerHost":         "--per-host",
	"Limits.Rate":            "--rate",
	"Limits.HostRate":        "--host-rate",
	"Limits.Window":          "--window",
	"Limits.MaxHostErrors":   "--max-host-errors",
	"Limits.SkipFor":         "", // engine.DefaultSkipFor
	"Retry.Max":              "--retries",
	"Retry.MaxWait":          "--max-retry-wait",
	"Retry.Base":             "", // the defaults'
	"Retry.Cap":              "", // the defaults'
	"Request.Method":         "-X",
	"Request.Header":         "-H",
	"Request.UserAgent":      "--user-agent",
	"Request.Proxy":          "--proxy",
	"Request.Resolve":        "--resolve",
	"Request.MaxRedirects":   "--max-redirects",
	"Request.MaxBody":        "--max-body",
	"Request.Timeout":        "--timeout",
	"Request.ConnectTimeout": "--connect-timeout",
	"Request.SaveDir":        "--save",
	"Request.MaxIdle":        "", // sized from --concurrency
	"Request.MaxIdlePerHost": "", // sized from --per-host
	"Request.Match":          "--match",
}

// flagErrors returns err, from engine.Config.Validate, engine.New or
// engine.NewClient, with each *fetch.FieldError naming the flag that sets
// its field instead of the field.
func flagErrors(err error) error {
	switch e := err.(type) {
	case interface{ Unwrap() []error }: // errors.Join's
		var errs []error
		for _, x := range e.Unwrap() {
			errs = append(errs, flagErrors(x))
		}
		return errors.Join(errs...)
	case *fetch.FieldError:
		if flag := fieldFlags[e.Field]; flag != "" {
			return fmt.Errorf("%s %w", flag, e.Err)
		}
	}
	return err
}
