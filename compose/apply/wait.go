package apply

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// WaitDependencies blocks until every depends_on condition of a service
// holds: service_started needs a running container, service_healthy a
// healthy one, service_completed_successfully one that exited 0. A
// condition met once is not waited for again.
func (x *Executor) WaitDependencies(ctx context.Context, service string) error {
	s, ok := x.p.Services[service]
	if !ok {
		return fmt.Errorf("service %q is not in the project", service)
	}
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		cond := s.DependsOn[dep]
		key := dep + "/" + cond.Condition
		x.mu.Lock()
		waited := x.waited[key]
		x.mu.Unlock()
		if waited {
			continue
		}
		if _, ok := x.p.Services[dep]; !ok && !cond.Required {
			continue
		}
		if err := x.waitCondition(ctx, dep, cond.Condition); err != nil {
			return fmt.Errorf("depends_on %s (%s): %w", dep, cond.Condition, err)
		}
		x.mu.Lock()
		x.waited[key] = true
		x.mu.Unlock()
	}
	return nil
}

func (x *Executor) waitCondition(ctx context.Context, service, condition string) error {
	ctx, cancel := context.WithTimeout(ctx, x.o.DependencyTimeout)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := x.conditionHolds(ctx, service, condition)
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not met after %s", x.o.DependencyTimeout)
		case <-tick.C:
		}
	}
}

func (x *Executor) conditionHolds(ctx context.Context, service, condition string) (bool, error) {
	items, err := x.ServiceContainers(ctx, service)
	if err != nil {
		return false, err
	}
	if len(items) == 0 {
		return false, nil
	}
	for _, c := range items {
		in, err := x.e.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return false, err
		}
		st := in.Container.State
		switch condition {
		case types.ServiceConditionCompletedSuccessfully:
			if st.Running || st.Restarting {
				return false, nil
			}
			if st.ExitCode != 0 {
				return false, fmt.Errorf("container %s exited with code %d%s", strings.TrimPrefix(in.Container.Name, "/"), st.ExitCode, x.tail(ctx, c.ID, in.Container.Name))
			}
		case types.ServiceConditionHealthy:
			if st.Health == nil {
				return false, fmt.Errorf("service %q has no healthcheck", service)
			}
			if st.Health.Status == "unhealthy" {
				return false, fmt.Errorf("container %s is unhealthy%s", strings.TrimPrefix(in.Container.Name, "/"), x.tail(ctx, c.ID, in.Container.Name))
			}
			if st.Health.Status != "healthy" {
				return false, nil
			}
		default:
			if !st.Running {
				return false, nil
			}
		}
	}
	return true, nil
}

// LogTailLines is how many of a failed container's last log lines berth
// counts, and the --tail of the command it shows for them.
const LogTailLines = 20

// tail tells, for an error message, how many lines the container wrote and
// how to read them: never their text, which may hold any value.
func (x *Executor) tail(ctx context.Context, id, name string) string {
	return LogsHint(x.LogLines(ctx, id), LogsCommand(name))
}

// LogsCommand is the command that shows a container's last log lines.
func LogsCommand(name string) string {
	return fmt.Sprintf("docker logs --tail %d %s", LogTailLines, strings.TrimPrefix(name, "/"))
}

// LogsHint points at a container's log lines: "; 3 log lines: docker logs
// --tail 20 web-1".
func LogsHint(lines int, command string) string {
	if lines == 0 {
		return "; no log lines (" + command + ")"
	}
	return fmt.Sprintf("; %d log lines: %s", lines, command)
}

// LogLines counts the last lines a container wrote, up to LogTailLines; 0
// when they cannot be read. Only the count leaves this function.
func (x *Executor) LogLines(ctx context.Context, id string) int {
	res, err := x.e.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(LogTailLines)})
	if err != nil {
		return 0
	}
	defer res.Close()
	raw, err := io.ReadAll(io.LimitReader(res, 256<<10))
	if err != nil {
		return 0
	}
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, bytes.NewReader(raw)); err != nil {
		out.Reset()
		out.Write(raw) // a TTY container's logs are not multiplexed
	}
	text := strings.TrimSpace(out.String())
	if text == "" {
		return 0
	}
	return min(strings.Count(text, "\n")+1, LogTailLines)
}
