//go:build failpoints

package failpoint

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// armed is the step and action from BERTH_FAILPOINT, read once.
var armed = sync.OnceValues(func() (string, string) {
	step, action, _ := strings.Cut(os.Getenv("BERTH_FAILPOINT"), ":")
	return step, action
})

var fired sync.Once

// Inject carries out the armed action when step is the armed step.
func Inject(step string) {
	want, action := armed()
	if want == "" || step != want {
		return
	}
	fired.Do(func() { do(step, action) })
}

func do(step, action string) {
	fmt.Fprintf(os.Stderr, "failpoint %s: %s\n", step, action)
	switch action {
	case "kill":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	case "pause":
		pause(os.Getenv("BERTH_FAILPOINT_FILE"))
	default:
		panic(fmt.Sprintf("BERTH_FAILPOINT: unknown action %q (kill, pause)", action))
	}
}

// pause says it reached the step and waits for the release file.
func pause(file string) {
	if file == "" {
		panic("BERTH_FAILPOINT: pause needs BERTH_FAILPOINT_FILE")
	}
	if err := os.WriteFile(file+".paused", nil, 0o600); err != nil {
		panic(err)
	}
	for {
		if _, err := os.Stat(file); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
