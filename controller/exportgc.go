package controller

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-gitops/berth/compose"
)

// historyKept is how many of a stack's latest deploys keep their exports:
// enough that a rollback to a recent commit loads without writing.
const historyKept = 5

// collectExports removes the stack's exports and mount copies that nothing
// needs any more, once a deploy or rollback settled. It keeps what any
// container on the engine mounts, whoever made it, the exports of the
// retained commits (applied, good, attempted, failed, pinned, head and the
// latest deploys in the history) and the copies the applied commit uses.
// When it cannot tell what is mounted, it removes nothing. It only ever
// removes entries of the stack's own folders under StacksDir and MountsDir.
func (s *stack) collectExports() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sources, err := mountSources(ctx, s.c.o.Engine)
	if err != nil {
		s.log.Warn("list the containers' mounts: old exports are kept", "error", err)
		return
	}
	exports, copies := map[string]bool{}, map[string]bool{}
	for _, src := range sources {
		markUsed(exports, s.root, src)
		markUsed(copies, s.mountsDir(), src)
	}
	if s.dir != "" {
		exports[filepath.Base(filepath.Dir(s.dir))] = true // the one loaded last
	}
	for _, h := range s.retainedCommits() {
		if t, err := s.c.o.Source.TreeHash(h, s.c.stackPath(s.name)); err == nil {
			exports[t] = true
		}
	}
	if s.loaded != nil {
		for _, svc := range s.loaded.project.Services {
			for _, m := range compose.RepoMounts(svc) {
				copies[filepath.Base(m.Copy)] = true
			}
		}
	}
	s.removeUnused(s.root, exports)
	s.removeUnused(s.mountsDir(), copies)
}

// retainedCommits are the commits whose exports are kept.
func (s *stack) retainedCommits() []string {
	st := s.state()
	out := []string{st.Applied, st.Good, st.Attempted, st.Failed, st.Pinned, st.Head}
	history, err := s.c.o.Store.History(s.name, historyKept)
	if err != nil {
		s.log.Warn("read history: only the state's commits keep their exports", "error", err)
	}
	for _, d := range history {
		out = append(out, d.Commit)
	}
	return out
}

// removeUnused removes the entries of dir that keep does not name.
func (s *stack) removeUnused(dir string, keep map[string]bool) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		s.log.Warn("read exports", "dir", dir, "error", err)
		return
	}
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		// RemoveAll removes a symlink, never what it points at.
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			s.log.Warn("remove an unused export", "path", filepath.Join(dir, e.Name()), "error", err)
			continue
		}
		s.log.Debug("removed an unused export", "path", filepath.Join(dir, e.Name()))
	}
}

// mountSources lists the host paths that containers mount, all of them,
// running or not.
func mountSources(ctx context.Context, e Engine) ([]string, error) {
	res, err := e.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range res.Items {
		for _, m := range c.Mounts {
			if m.Source != "" {
				out = append(out, m.Source)
			}
		}
	}
	return out, nil
}

// markUsed names in used the entry of dir that src lies in.
func markUsed(used map[string]bool, dir, src string) {
	rel, ok := within(dir, src)
	if !ok {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return
		}
		if rel, ok = within(real, src); !ok {
			return
		}
	}
	if first, _, _ := strings.Cut(rel, "/"); first != "." && first != "" {
		used[first] = true
	}
}
