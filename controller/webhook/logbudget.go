package webhook

import (
	"sync"
	"time"
)

// refusalLines is how many refusals a second get a log line: a flood of
// forged requests must not become a flood of the log.
const refusalLines = 10

// logBudget grants refusalLines log lines a second and counts the
// refusals left out, so the next line can say how many there were.
type logBudget struct {
	now func() time.Time

	mu      sync.Mutex
	second  time.Time // the start of the current second
	used    int
	dropped int
}

// take says whether a refusal gets a log line and, when it does, how many
// were left out since the last one.
func (b *logBudget) take() (ok bool, dropped int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now := b.now(); now.Sub(b.second) >= time.Second {
		b.second, b.used = now, 0
	}
	if b.used >= refusalLines {
		b.dropped++
		return false, 0
	}
	b.used++
	dropped, b.dropped = b.dropped, 0
	return true, dropped
}
