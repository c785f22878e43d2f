package controller

import (
	"context"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/controller/watch"
)

// newWatch makes the watcher of the engine's events when Options.Events
// is set: restart loops, OOM kills and unhealthy containers become alerts.
func (c *Controller) newWatch() {
	if c.o.Events == nil {
		return
	}
	c.watch = watch.New(watch.Options{Engine: c.o.Events, Logger: c.log, Notify: c.o.Notify, Metrics: c.metrics,
		Host: c.o.Host, URL: c.o.StatusURL, Owns: c.owns})
}

// startWatch runs the watcher until ctx ends; the returned func waits for
// it, so no alert is sent after Run returns.
func (c *Controller) startWatch(ctx context.Context) (wait func()) {
	if c.watch == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() { defer close(done); c.watch.Run(ctx) }()
	return func() { <-done }
}

// acting marks a stack's containers as berth's to stop, replace or start
// until the returned func is called: their events are no incidents.
func (c *Controller) acting(project string) func() {
	if c.watch == nil {
		return func() {}
	}
	return c.watch.Acting(project)
}

// watchRules hands the watcher the restart alert of each service of the
// commit now applied.
func (c *Controller) watchRules(l *loaded) {
	if c.watch == nil || l == nil {
		return
	}
	rules := map[string]compose.RestartAlert{}
	for name, svc := range l.project.Services {
		if set, err := compose.ReadServiceSettings(svc); err == nil {
			rules[name] = set.RestartAlert
		}
	}
	c.watch.SetRules(l.project.Name, rules)
}

var _ watch.Metrics = (*metrics)(nil)

// projectOf is the compose project a stack's containers carry.
func projectOf(st store.StackState) string {
	if st.Project != "" {
		return st.Project
	}
	return st.Stack
}

// project is the stack's compose project.
func (s *stack) project() string { return projectOf(s.state()) }

// owns says whether a compose project is one of this controller's stacks
// (deployed here and not removed).
func (c *Controller) owns(project string) bool {
	c.mu.Lock()
	stacks := make([]*stack, 0, len(c.stacks))
	for _, s := range c.stacks {
		stacks = append(stacks, s)
	}
	c.mu.Unlock()
	for _, s := range stacks {
		if st := s.state(); st.State != "" && st.State != StateRemoved && projectOf(st) == project {
			return true
		}
	}
	return false
}
