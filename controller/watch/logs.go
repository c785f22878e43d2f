package watch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// logTail bounds the log lines counted.
const logTail = 1000

// logLines counts a container's log lines since its run that ended
// started (all of them when that start was not seen), at most logTail.
// The lines the engine has not written yet when the alert is sent are not
// counted; the next run's may be. Only the count leaves this function: the
// lines may hold anything the app prints, secrets included.
func (w *Watcher) logLines(ctx context.Context, name string, since time.Time) *int {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(logTail)}
	if !since.IsZero() {
		opts.Since = stamp(since)
	}
	rc, err := w.o.Engine.ContainerLogs(ctx, name, opts)
	if err != nil {
		w.log.Debug("count log lines", "container", name, "error", err)
		return nil
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, 8<<20))
	if err != nil && len(raw) == 0 {
		return nil
	}
	n := countLines(raw)
	return &n
}

// countLines counts the lines of a log stream: multiplexed (8-byte frame
// headers) unless the container has a TTY.
func countLines(raw []byte) int {
	if len(raw) >= 8 && raw[0] <= 2 && raw[1] == 0 && raw[2] == 0 && raw[3] == 0 {
		var out bytes.Buffer
		stdcopy.StdCopy(&out, &out, bytes.NewReader(raw))
		raw = out.Bytes()
	}
	n := bytes.Count(raw, []byte{'\n'})
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		n++
	}
	return n
}

func stamp(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }
