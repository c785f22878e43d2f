package webhook

import (
	"sync"
	"time"
)

// seen remembers the last delivery IDs, each for a window, so that a host's
// redelivery (same ID) triggers nothing. Memory is bounded by size.
type seen struct {
	size   int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	at    map[string]time.Time
	order []entry // oldest first
}

type entry struct {
	key string
	at  time.Time
}

func newSeen(size int, window time.Duration, now func() time.Time) *seen {
	return &seen{size: size, window: window, now: now, at: make(map[string]time.Time, size)}
}

// add records key and says whether it is new: not seen within the window.
func (s *seen) add(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expire(now)
	if t, ok := s.at[key]; ok && now.Sub(t) < s.window {
		return false
	}
	s.at[key] = now
	s.order = append(s.order, entry{key, now})
	for len(s.order) > s.size {
		s.drop()
	}
	return true
}

// expire forgets the entries older than the window.
func (s *seen) expire(now time.Time) {
	for len(s.order) > 0 && now.Sub(s.order[0].at) >= s.window {
		s.drop()
	}
}

// drop forgets the oldest entry; a key added again since stays.
func (s *seen) drop() {
	e := s.order[0]
	s.order[0] = entry{}
	s.order = s.order[1:]
	if s.at[e.key].Equal(e.at) {
		delete(s.at, e.key)
	}
	if len(s.order) == 0 {
		s.order = nil // let the backing array go
	}
}
