package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// fetches is berth_fetches_total from the controller's /metrics: every
// cycle starts with one fetch, failed or not.
func (r *berthRun) fetches() (int, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get("http://" + r.addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics on %s: %s", r.addr, res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "berth_fetches_total "); ok {
			return strconv.Atoi(v)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no berth_fetches_total in /metrics on %s", r.addr)
}

// waitCycles waits until n whole cycles have run that started after the
// call, so that a check of what did not happen stands on polls that did
// happen. The cycle running at the call may have started before it and
// does not count; a cycle's fetch starts only after the previous cycle
// finished, so n+1 more fetches than now prove n whole cycles.
func (r *berthRun) waitCycles(n int) {
	r.t.Helper()
	base, err := r.fetches()
	if err != nil {
		r.t.Fatalf("read the cycle count: %v", err)
	}
	// A cycle is a poll interval (1 s) plus the reconcile of a few stacks.
	timeout := time.Duration(n+1) * 20 * time.Second
	r.waitFor(fmt.Sprintf("%d more cycles after fetch %d", n, base), timeout, func() bool {
		got, err := r.fetches()
		return err == nil && got >= base+n+1
	})
}
