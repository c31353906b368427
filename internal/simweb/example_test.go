package simweb_test

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fanout/fanout/internal/simweb"
)

// Start a server, fetch two of its behaviours with its test client, and
// generate a workload whose hosts are spread over the server's ports.
func Example() {
	s, err := simweb.Start(simweb.Config{Ports: 2, Seed: 1})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	c := s.Client()
	defer c.CloseIdleConnections()
	for _, path := range []string{"/ok", "/status/404"} {
		resp, err := c.Get(s.URL("h17.sim", path))
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode, len(body))
	}
	seq, _ := s.Workload(simweb.WorkloadSpec{Name: "manyhosts", N: 3, Hosts: 3})
	for _, line := range slices.Collect(seq) {
		fmt.Println(strings.Split(line, ":")[1], strings.SplitN(line, "/", 4)[3])
	}
	// Output:
	// /ok 200 1024
	// /status/404 404 84
	// //h0.sim ok?n=0
	// //h1.sim ok?n=1
	// //h2.sim ok?n=2
}
