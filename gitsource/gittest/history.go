package gittest

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// FastImport appends n commits to the current branch in one git
// fast-import run, so a test can have 10,000 commits of history in about a
// second instead of 10,000 git processes. Commit i rewrites
// stacks/app/compose.yaml and one of 100 files under data/, with committer
// dates one second apart ending now. The work tree is reset to the new head,
// which is returned; Push sends it to origin.
func (w *Work) FastImport(n int) string {
	w.t.Helper()
	branch := w.Run("symbolic-ref", "HEAD")
	parent := w.revParse("HEAD")
	start := time.Now().Unix() - int64(n)
	var s bytes.Buffer
	for i := range n {
		msg := fmt.Sprintf("change %d\n", i)
		fmt.Fprintf(&s, "commit %s\ncommitter Berth Test <test@berth.invalid> %d +0000\n", branch, start+int64(i))
		fmt.Fprintf(&s, "data %d\n%s", len(msg), msg)
		if i == 0 && parent != "" {
			fmt.Fprintf(&s, "from %s\n", parent)
		}
		inline(&s, "stacks/app/compose.yaml", fmt.Sprintf("services:\n  app:\n    image: busybox\n    command: [echo, %d]\n", i))
		inline(&s, fmt.Sprintf("data/file%02d.txt", i%100), strings.Repeat(fmt.Sprintf("line %d\n", i), 10))
		s.WriteString("\n")
	}
	gitIn(w.t, w.Dir, s.Bytes(), "fast-import", "--quiet")
	w.ResetHard("HEAD")
	return w.Head()
}

func inline(s *bytes.Buffer, path, content string) {
	fmt.Fprintf(s, "M 100644 inline %s\ndata %d\n%s\n", path, len(content), content)
}
