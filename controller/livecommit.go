package controller

import (
	"context"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
	"github.com/berth-gitops/berth/controller/store"
	"github.com/berth-gitops/berth/gitsource"
)

// recoverGood gives a stack that has no last good commit (its state was
// lost: a damaged state file moved aside) the commit its running
// containers carry, so that a new commit that fails verification rolls
// back to what ran before instead of stopping the stack as a first deploy
// would. It does nothing for a real first deploy, for containers that
// disagree, or for a commit this clone does not hold.
func (s *stack) recoverGood(ctx context.Context, o *outcome, project string) {
	if st := s.view(o); st.Good != "" {
		return
	}
	commit := s.liveCommit(ctx, project)
	if commit == "" {
		return
	}
	if _, err := s.c.o.Source.Commit(commit); err != nil {
		return
	}
	s.log.Warn("no recorded good commit: taking the running containers' commit as the one to roll back to", "good", gitsource.Short(commit))
	o.set(func(st *store.StackState) {
		if st.Good == "" {
			st.Good = commit
		}
	})
}

// liveCommit is the dev.berth.commit label that every container of the
// project berth manages carries, or "" when there are none or they differ.
func (s *stack) liveCommit(ctx context.Context, project string) string {
	res, err := s.c.o.Engine.ContainerList(ctx, client.ContainerListOptions{
		All: true,
		Filters: make(client.Filters).Add("label", compose.LabelProject+"="+project).
			Add("label", compose.LabelBerthManaged+"=true"),
	})
	if err != nil {
		return ""
	}
	commit := ""
	for _, c := range res.Items {
		if c.Labels[compose.LabelOneoff] == "True" {
			continue
		}
		got := c.Labels[compose.LabelBerthCommit]
		if got == "" || commit != "" && got != commit {
			return ""
		}
		commit = got
	}
	return commit
}
