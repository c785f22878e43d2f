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

// waitDependencies blocks until every depends_on condition of s holds:
// service_started needs a running container, service_healthy a healthy one,
// service_completed_successfully one that exited 0.
func (a *applier) waitDependencies(ctx context.Context, s types.ServiceConfig) error {
	if a.waited == nil {
		a.waited = map[string]bool{}
	}
	for _, dep := range sortedKeys(s.DependsOn) {
		cond := s.DependsOn[dep]
		key := dep + "/" + cond.Condition
		if a.waited[key] {
			continue
		}
		if _, ok := a.p.Services[dep]; !ok && !cond.Required {
			continue
		}
		if err := a.waitCondition(ctx, dep, cond.Condition); err != nil {
			return fmt.Errorf("depends_on %s (%s): %w", dep, cond.Condition, err)
		}
		a.waited[key] = true
	}
	return nil
}

func (a *applier) waitCondition(ctx context.Context, service, condition string) error {
	ctx, cancel := context.WithTimeout(ctx, a.o.DependencyTimeout)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := a.conditionHolds(ctx, service, condition)
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not met after %s", a.o.DependencyTimeout)
		case <-tick.C:
		}
	}
}

func (a *applier) conditionHolds(ctx context.Context, service, condition string) (bool, error) {
	items, err := a.serviceContainers(ctx, service)
	if err != nil {
		return false, err
	}
	if len(items) == 0 {
		return false, nil
	}
	for _, c := range items {
		in, err := a.e.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
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
				return false, fmt.Errorf("container %s exited with code %d%s", strings.TrimPrefix(in.Container.Name, "/"), st.ExitCode, a.logTail(ctx, c.ID))
			}
		case types.ServiceConditionHealthy:
			if st.Health == nil {
				return false, fmt.Errorf("service %q has no healthcheck", service)
			}
			if st.Health.Status == "unhealthy" {
				return false, fmt.Errorf("container %s is unhealthy%s", strings.TrimPrefix(in.Container.Name, "/"), a.logTail(ctx, c.ID))
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

// logTail returns the last lines a container wrote, for error messages.
func (a *applier) logTail(ctx context.Context, id string) string {
	res, err := a.e.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "10"})
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
	text := strings.TrimSpace(out.String())
	if text == "" {
		return ""
	}
	return "; last log lines:\n" + text
}
