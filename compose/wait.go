package compose

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	for _, dep := range sortedKeys(s.DependsOn) {
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
				return false, fmt.Errorf("container %s exited with code %d%s", strings.TrimPrefix(in.Container.Name, "/"), st.ExitCode, x.tail(ctx, c.ID))
			}
		case types.ServiceConditionHealthy:
			if st.Health == nil {
				return false, fmt.Errorf("service %q has no healthcheck", service)
			}
			if st.Health.Status == "unhealthy" {
				return false, fmt.Errorf("container %s is unhealthy%s", strings.TrimPrefix(in.Container.Name, "/"), x.tail(ctx, c.ID))
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

// tail is LogTail for an error message.
func (x *Executor) tail(ctx context.Context, id string) string {
	if t := x.LogTail(ctx, id); t != "" {
		return "; last log lines:\n" + t
	}
	return ""
}

// LogTail returns the last lines a container wrote (up to ten), or "".
func (x *Executor) LogTail(ctx context.Context, id string) string {
	res, err := x.e.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "10"})
	if err != nil {
		return ""
	}
	defer res.Close()
	raw, err := io.ReadAll(io.LimitReader(res, 64<<10))
	if err != nil {
		return ""
	}
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, bytes.NewReader(raw)); err != nil {
		out.Reset()
		out.Write(raw) // a TTY container's logs are not multiplexed
	}
	return strings.TrimSpace(out.String())
}
