package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fanout/fanout/internal/simweb"
)

// demoTimeout is the demo's default --timeout: some of its servers never
// answer.
const demoTimeout = 3 * time.Second

// newDemo is `fanout demo`: the main job against a simulated web started
// in-process, so a new user can see fanout work on any machine, offline.
func newDemo(env Env) *cobra.Command {
	f := &flags{}
	var n, hosts int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo [flags]",
		Short: "Run fanout against a simulated web on loopback (offline)",
		Long: `demo starts a simulated web on 127.0.0.1 inside this process, generates a
workload (by default 2,000 URLs over 50 host names with heavy-tailed latency,
some redirects and errors, and a few hostile servers), and runs the main job
against it with the flags you give, exactly as it would run on your list.

It ends with the normal summary: compare "request time ... summed" with the
wall time to see the speedup over fetching one URL after another.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(f.inputs) > 0 {
				return usageError{fmt.Errorf("--input: demo makes its own targets; run fanout without demo for yours")}
			}
			srv, err := simweb.Start(simweb.Config{Ports: 2, Seed: seed, MaxLifetime: time.Hour})
			if err != nil {
				return fmt.Errorf("demo: starting the simulated web: %w", err)
			}
			defer srv.Close()
			lines, err := srv.Workload(simweb.WorkloadSpec{Name: "demo", N: n, Hosts: hosts, Seed: seed})
			if err != nil {
				return usageError{err}
			}
			// The list goes to a temporary file rather than stdin so the
			// progress bar knows the total.
			list, err := os.CreateTemp("", "fanout-demo-*.txt")
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			defer os.Remove(list.Name())
			for l := range lines {
				fmt.Fprintln(list, l)
			}
			if err := list.Close(); err != nil {
				return fmt.Errorf("demo: writing the target list: %w", err)
			}
			f.resolve = append(f.resolve, srv.ResolveArgs()...)
			f.inputs = []string{list.Name()}
			if !f.quiet {
				fmt.Fprintf(env.Stderr, "demo: simulated web on %s, %d URLs over %d hosts\n",
					strings.Join(srv.Addrs(), ", "), n, hosts)
			}
			err = runMain(cmd.Context(), env, f, nil)
			if ee, ok := err.(exitError); ok && ee.code == ExitFailures {
				// The simulated web fails on purpose; that is the demo
				// working, not the command failing.
				return nil
			}
			return err
		},
	}
	cmd.Flags().SortFlags = false
	cmd.Flags().IntVar(&n, "n", 2000, "number of URLs in the workload")
	cmd.Flags().IntVar(&hosts, "hosts", 50, "number of simulated host names")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed that makes the workload and the servers' behaviour reproducible")
	f.register(cmd.Flags())
	// The demo makes its own targets and refuses -i; its help lists only
	// the flags it takes. (Parsed still, so -i gets the refusal that says
	// why, not "unknown flag".)
	cmd.Flags().MarkHidden("input")
	// The hostile servers would hold the main command's 10s; the default
	// is set on the flag so that --help shows the one the demo uses.
	f.timeout = demoTimeout
	cmd.Flags().Lookup("timeout").DefValue = demoTimeout.String()
	return cmd
}
